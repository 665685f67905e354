// The IAM gate's tests: request parsing (raw requests as the Rust SDK sends them), decisions
// that can fail, the line protocol, and the replay of every call the product makes.
//
//   .tools/node/node_modules/.bin/node --test tests/iam-gate/

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Gate, parseRequest, IMPLIED } from './gate.mjs';
import { keyPolicies, keyPolicyDocuments } from './key-policies.mjs';
import { translate, replay, variant, describe as describeDenial, loadCalls, ROOT, EXISTING_BUCKET_KEY } from './replay.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const A = '123456789012';
const auth = (service, region = 'us-east-1') =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`;
const s3req = (method, p, query = '', extra = {}) => ({
  method,
  path: p,
  query,
  headers: { host: 's3.us-east-1.amazonaws.com', authorization: auth('s3'), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra },
  body: '',
});
const rdsReq = (body) => ({
  method: 'POST',
  path: '/',
  headers: { host: 'rds.us-east-1.amazonaws.com', 'content-type': 'application/x-www-form-urlencoded', authorization: auth('rds') },
  body,
});
const ecsReq = (action, params) => ({
  method: 'POST',
  path: '/',
  headers: {
    host: 'ecs.us-east-1.amazonaws.com',
    'x-amz-target': `AmazonEC2ContainerServiceV20141113.${action}`,
    'content-type': 'application/x-amz-json-1.1',
    authorization: auth('ecs'),
  },
  body: JSON.stringify(params),
});
const RUN_TASK = {
  cluster: `arn:aws:ecs:us-east-1:${A}:cluster/sanitizercluster`,
  taskDefinition: `arn:aws:ecs:us-east-1:${A}:task-definition/sluice-test-sanitizer:1`,
  launchType: 'FARGATE',
  count: 1,
  tags: [{ key: 'sluice:run-id', value: 'run-1' }],
};

// ---- request parsing ---------------------------------------------------------------------------

describe('parseRequest', () => {
  test('Query protocol: action from the form body, service from the credential scope, RDS tags', () => {
    const p = parseRequest(
      rdsReq('Action=CreateDBSnapshot&Version=2014-10-31&DBSnapshotIdentifier=s1&DBInstanceIdentifier=prod-db&Tags.Tag.1.Key=sluice%3Arun-id&Tags.Tag.1.Value=r1&Tags.Tag.2.Key=sluice%3Arole&Tags.Tag.2.Value=temp'),
    );
    assert.equal(p.service, 'rds');
    assert.equal(p.region, 'us-east-1');
    assert.equal(p.protocol, 'query');
    assert.equal(p.action, 'CreateDBSnapshot');
    assert.equal(p.params.DBInstanceIdentifier, 'prod-db');
    assert.deepEqual(p.tags, [
      { Key: 'sluice:run-id', Value: 'r1' },
      { Key: 'sluice:role', Value: 'temp' },
    ]);
  });

  test('JSON protocol: action after the last dot of X-Amz-Target, tags in ECS shape', () => {
    const p = parseRequest(ecsReq('RunTask', RUN_TASK));
    assert.equal(p.service, 'ecs');
    assert.equal(p.protocol, 'json');
    assert.equal(p.action, 'RunTask');
    assert.deepEqual(p.tags, [{ Key: 'sluice:run-id', Value: 'r1'.replace('r1', 'run-1') }]);
  });

  test('S3 REST: method, path and query give the IAM action', () => {
    const cases = [
      [s3req('GET', '/b/k/x.log'), 'GetObject', 'k/x.log'],
      [s3req('HEAD', '/b/k/x.log'), 'GetObject', 'k/x.log'],
      [s3req('GET', '/b/k', 'versionId=3'), 'GetObjectVersion', 'k'],
      [s3req('PUT', '/b/k'), 'PutObject', 'k'],
      [s3req('POST', '/b/k', 'uploads='), 'PutObject', 'k'], // CreateMultipartUpload
      [s3req('PUT', '/b/k', 'partNumber=2&uploadId=U'), 'PutObject', 'k'], // UploadPart
      [s3req('POST', '/b/k', 'uploadId=U'), 'PutObject', 'k'], // CompleteMultipartUpload
      [s3req('DELETE', '/b/k', 'uploadId=U'), 'AbortMultipartUpload', 'k'],
      [s3req('DELETE', '/b/k'), 'DeleteObject', 'k'],
      [s3req('DELETE', '/b/k', 'versionId=3'), 'DeleteObjectVersion', 'k'],
      [s3req('GET', '/b', 'list-type=2&prefix=rds-logs%2F'), 'ListBucket', ''],
      [s3req('HEAD', '/b'), 'ListBucket', ''], // HeadBucket
      [s3req('GET', '/b', 'location='), 'GetBucketLocation', ''],
      [s3req('GET', '/b', 'uploads='), 'ListBucketMultipartUploads', ''],
      [s3req('GET', '/b/a%20b/c%2Bd'), 'GetObject', 'a b/c+d'],
    ];
    for (const [req, action, key] of cases) {
      const p = parseRequest(req);
      assert.equal(p.service, 's3');
      assert.equal(p.action, action, `${req.method} ${req.path}?${req.query}`);
      assert.equal(p.s3.bucket, 'b');
      assert.equal(p.s3.key, key);
    }
  });

  test('S3 virtual-hosted style and DeleteObjects keys', () => {
    const p = parseRequest({ ...s3req('GET', '/dir/f.txt'), headers: { host: 'mybucket.s3.us-east-1.amazonaws.com', authorization: auth('s3') } });
    assert.equal(p.s3.bucket, 'mybucket');
    assert.equal(p.s3.key, 'dir/f.txt');
    const d = parseRequest({ ...s3req('POST', '/b', 'delete='), body: '<Delete><Object><Key>a/1</Key></Object><Object><Key>a/2</Key></Object></Delete>' });
    assert.equal(d.action, 'DeleteObject');
    assert.deepEqual(d.s3.keys, ['a/1', 'a/2']);
  });

  test('REST routes: RDS log download, AWS Backup, Lambda invoke; presigned credential; host fallback', () => {
    const dl = parseRequest({ method: 'GET', path: '/v13/downloadCompleteLogFile/prod-db/error/postgresql.log.1', headers: { host: 'rds.us-east-1.amazonaws.com', authorization: auth('rds') } });
    assert.equal(dl.action, 'DownloadCompleteDBLogFile');
    assert.equal(dl.params.DBInstanceIdentifier, 'prod-db');
    const rp = parseRequest({ method: 'DELETE', path: `/backup-vaults/Default/recovery-points/${encodeURIComponent('arn:aws:rds:us-east-1:1:snapshot:awsbackup:job-1')}`, headers: { host: 'backup.us-east-1.amazonaws.com', authorization: auth('backup') } });
    assert.equal(rp.action, 'DeleteRecoveryPoint');
    assert.equal(rp.params.RecoveryPointArn, 'arn:aws:rds:us-east-1:1:snapshot:awsbackup:job-1');
    const inv = parseRequest({ method: 'POST', path: '/2015-03-31/functions/f/invocations', headers: { host: 'lambda.us-east-1.amazonaws.com', authorization: auth('lambda') }, body: '{}' });
    assert.equal(inv.action, 'InvokeFunction');
    const pre = parseRequest({ method: 'GET', path: '/v13/downloadCompleteLogFile/db1/f', query: `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent('AKID/20261206/eu-west-1/rds/aws4_request')}`, headers: { host: 'localhost:4566' } });
    assert.equal(pre.service, 'rds');
    assert.equal(pre.region, 'eu-west-1');
    const unsigned = parseRequest({ method: 'POST', path: '/', headers: { host: 'kms.us-east-1.amazonaws.com', 'x-amz-target': 'TrentService.Decrypt' }, body: '{}' });
    assert.equal(unsigned.service, 'kms');
    assert.equal(unsigned.action, 'Decrypt');
  });

  test('a request it cannot understand is an error, not a silent allow', () => {
    assert.throws(() => parseRequest({ method: 'POST', path: '/', headers: { host: 'localhost', authorization: auth('rds') }, body: 'nothing=here' }), /cannot tell the rds action/);
  });
});

// ---- decisions against the translated template -------------------------------------------------

describe('decisions', () => {
  let gate;
  before(() => {
    gate = new Gate();
    gate.load(translate());
  });

  test('the log syncer writes under rds-logs/ and nowhere else', async () => {
    const ok = await gate.evaluate({ principal: 'LogSyncerFunctionRole', request: s3req('PUT', '/databucket/rds-logs/prod-db/2026/12/06/error.log') });
    assert.equal(ok.decision, 'Allowed');
    const no = await gate.evaluate({ principal: 'LogSyncerFunctionRole', request: s3req('PUT', '/databucket/activity-streams/x') });
    assert.equal(no.decision, 'ImplicitlyDenied');
    assert.equal(no.action, 's3:PutObject');
    assert.equal(no.resource, 'arn:aws:s3:::databucket/activity-streams/x');
    assert.equal(no.closest.sid, 'WriteCopiesAndState');
    assert.match(no.closest.why, /resource not matched/);
  });

  test('the bucket policy denies plain HTTP explicitly', async () => {
    const r = await gate.evaluate({ principal: 'LogSyncerFunctionRole', request: s3req('PUT', '/databucket/rds-logs/x'), secureTransport: false });
    assert.equal(r.decision, 'ExplicitlyDenied');
    assert.equal(r.closest.sid, 'DenyInsecureTransport');
  });

  test('RunTask with tags is allowed, ecs:TagResource included, with ecs:CreateAction=RunTask', async () => {
    const r = await gate.evaluate({ principal: 'SnapshotStepsFunctionRole', request: ecsReq('RunTask', RUN_TASK) });
    assert.equal(r.decision, 'Allowed', JSON.stringify(r.closest));
    const tag = r.evaluations.find((e) => e.action === 'ecs:TagResource');
    assert.equal(tag.context['ecs:CreateAction'], 'RunTask');
    assert.deepEqual(tag.context['aws:TagKeys'], ['sluice:run-id']);
    assert.deepEqual(
      r.evaluations.filter((e) => e.action === 'iam:PassRole').map((e) => e.resource).sort(),
      [`arn:aws:iam::${A}:role/sanitizerexecutionrole`, `arn:aws:iam::${A}:role/sanitizertaskrole`],
    );
  });

  test('a direct TagResource (tagging an existing resource) stays denied', async () => {
    const r = await gate.evaluate({ principal: 'SnapshotStepsFunctionRole', request: ecsReq('TagResource', { resourceArn: `arn:aws:ecs:us-east-1:${A}:task/sanitizercluster/abc`, tags: [{ key: 'k', value: 'v' }] }) });
    assert.equal(r.decision, 'ImplicitlyDenied');
  });

  test('the tag guard: no snapshot outside Sluice\'s names can be tagged, copied, shared or deleted', async () => {
    const tags = '&Tags.Tag.1.Key=sluice%3Arun-id&Tags.Tag.1.Value=r1&Tags.Tag.2.Key=sluice%3Arole&Tags.Tag.2.Value=sanitized';
    const snap = (id) => `arn:aws:rds:us-east-1:${A}:snapshot:${id}`;
    const decide = async (body) => (await gate.evaluate({ principal: 'SnapshotStepsFunctionRole', request: rdsReq(`Version=2014-10-31&${body}`), resourceTags: { [snap('prod-db-before-migration')]: { 'sluice:role': 'sanitized' } } })).decision;
    // Tagging an existing production snapshot into Sluice's.
    assert.equal(await decide(`Action=AddTagsToResource&ResourceName=${encodeURIComponent(snap('prod-db-before-migration'))}${tags}`), 'ImplicitlyDenied');
    // Copying a production snapshot, or copying into a name outside Sluice's.
    assert.equal(await decide(`Action=CopyDBSnapshot&SourceDBSnapshotIdentifier=prod-db-before-migration&TargetDBSnapshotIdentifier=prod-db-sanitized-x${tags}`), 'ImplicitlyDenied');
    assert.equal(await decide(`Action=CopyDBSnapshot&SourceDBSnapshotIdentifier=sluice-tmp-r1&TargetDBSnapshotIdentifier=elsewhere${tags}`), 'ImplicitlyDenied');
    // Deleting or sharing it, even tagged as Sluice's.
    assert.equal(await decide('Action=DeleteDBSnapshot&DBSnapshotIdentifier=prod-db-before-migration'), 'ImplicitlyDenied');
    assert.equal(await decide('Action=ModifyDBSnapshotAttribute&DBSnapshotIdentifier=prod-db-before-migration&AttributeName=restore&ValuesToAdd.AttributeValue.1=210987654321'), 'ImplicitlyDenied');
    // What a run does stays allowed: tag a kept snapshot at its copy.
    assert.equal(await decide(`Action=CopyDBSnapshot&SourceDBSnapshotIdentifier=sluice-tmp-r1&TargetDBSnapshotIdentifier=prod-db-sanitized-20261206-031500${tags}`), 'Allowed');
  });

  test('RunTask of another task definition is denied', async () => {
    const r = await gate.evaluate({ principal: 'SnapshotStepsFunctionRole', request: ecsReq('RunTask', { ...RUN_TASK, taskDefinition: `arn:aws:ecs:us-east-1:${A}:task-definition/other:1` }) });
    assert.equal(r.decision, 'ImplicitlyDenied');
    assert.equal(r.action, 'ecs:RunTask');
  });

  test('the DAS key decrypts only under the pinned encryption context (kms:EncryptionContext:*)', async () => {
    const key = `arn:aws:kms:us-east-1:${A}:key/11111111-1111-1111-1111-111111111111`;
    const kms = (ec) => ({ method: 'POST', path: '/', headers: { host: 'kms.us-east-1.amazonaws.com', 'x-amz-target': 'TrentService.Decrypt', 'content-type': 'application/x-amz-json-1.1', authorization: auth('kms') }, body: JSON.stringify({ CiphertextBlob: 'AA==', EncryptionContext: ec }) });
    assert.equal((await gate.evaluate({ principal: 'DasTransformerFunctionRole', resource: key, request: kms({ 'aws:rds:db-id': 'db-ABCDEFGHIJKL' }) })).decision, 'Allowed');
    const other = await gate.evaluate({ principal: 'DasTransformerFunctionRole', resource: key, request: kms({ 'aws:rds:db-id': 'db-OTHER' }) });
    assert.equal(other.decision, 'ImplicitlyDenied');
    assert.match(other.closest.why, /kms:EncryptionContext:aws:rds:db-id/);
  });

  test('the sanitizer reads only the secrets of temporary databases (resource tags looked up)', async () => {
    const secret = `arn:aws:secretsmanager:us-east-1:${A}:secret:rds!db-1-AbCdEf`;
    const req = { method: 'POST', path: '/', headers: { host: 'secretsmanager.us-east-1.amazonaws.com', 'x-amz-target': 'secretsmanager.GetSecretValue', 'content-type': 'application/x-amz-json-1.1', authorization: auth('secretsmanager') }, body: JSON.stringify({ SecretId: secret }) };
    const tagged = (db) => ({ [secret]: { 'aws:rds:primaryDBInstanceArn': `arn:aws:rds:us-east-1:${A}:db:${db}` } });
    assert.equal((await gate.evaluate({ principal: 'SanitizerTaskRole', request: req, resourceTags: tagged('sluice-tmp-run-1') })).decision, 'Allowed');
    assert.equal((await gate.evaluate({ principal: 'SanitizerTaskRole', request: req, resourceTags: tagged('prod-db') })).decision, 'ImplicitlyDenied');
    assert.equal((await gate.evaluate({ principal: 'SanitizerTaskRole', request: req })).decision, 'ImplicitlyDenied');
  });

  test('temp databases are changed only when tagged sluice:role=temp (aws:ResourceTag)', async () => {
    const req = rdsReq('Action=DeleteDBInstance&Version=2014-10-31&DBInstanceIdentifier=sluice-tmp-run-1&SkipFinalSnapshot=true');
    const arn = `arn:aws:rds:us-east-1:${A}:db:sluice-tmp-run-1`;
    assert.equal((await gate.evaluate({ principal: 'SnapshotStepsFunctionRole', request: req, resourceTags: { [arn]: { 'sluice:role': 'temp' } } })).decision, 'Allowed');
    const r = await gate.evaluate({ principal: 'SnapshotStepsFunctionRole', request: req });
    assert.equal(r.decision, 'ImplicitlyDenied');
    assert.equal(r.closest.sid, 'ChangeOnlyTempDatabases');
  });

  test('ManageMasterUserPassword: kms:DescribeKey on the aws/secretsmanager key, grants through Secrets Manager', async () => {
    const arn = `arn:aws:rds:us-east-1:${A}:db:sluice-tmp-run-1`;
    const r = await gate.evaluate({
      principal: 'SnapshotStepsFunctionRole',
      request: rdsReq('Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=sluice-tmp-run-1&ManageMasterUserPassword=true&BackupRetentionPeriod=0&ApplyImmediately=true'),
      resourceTags: { [arn]: { 'sluice:role': 'temp' } },
    });
    assert.equal(r.decision, 'Allowed', JSON.stringify(r.closest));
    const actions = r.evaluations.map((e) => e.action);
    for (const a of ['secretsmanager:CreateSecret', 'secretsmanager:TagResource', 'kms:DescribeKey', 'kms:CreateGrant', 'kms:Decrypt', 'kms:GenerateDataKey']) assert.ok(actions.includes(a), a);
  });

  test('StartExportTask passes only the export role', async () => {
    const body = (role) =>
      `Action=StartExportTask&Version=2014-10-31&ExportTaskIdentifier=e1&SourceArn=${encodeURIComponent(`arn:aws:rds:us-east-1:${A}:snapshot:awsbackup:job-1`)}&S3BucketName=databucket&IamRoleArn=${encodeURIComponent(role)}&KmsKeyId=${encodeURIComponent(`arn:aws:kms:us-east-1:${A}:key/33333333-3333-3333-3333-333333333333`)}`;
    assert.equal((await gate.evaluate({ principal: 'BackupActionsFunctionRole', request: rdsReq(body(`arn:aws:iam::${A}:role/backupexportrole`)) })).decision, 'Allowed');
    const r = await gate.evaluate({ principal: 'BackupActionsFunctionRole', request: rdsReq(body(`arn:aws:iam::${A}:role/admin`)) });
    assert.equal(r.decision, 'ImplicitlyDenied');
    assert.equal(r.action, 'iam:PassRole');
    assert.equal(r.rule, 'rds-export-task');
  });

  test('EventBridge invokes a function only from its own rules (Lambda permissions, aws:SourceArn)', async () => {
    const req = { method: 'POST', path: '/2015-03-31/functions/logsyncerfunction/invocations', headers: { host: 'lambda.us-east-1.amazonaws.com', authorization: auth('lambda') }, body: '{}' };
    assert.equal((await gate.evaluate({ principal: 'service:events.amazonaws.com', request: req, sourceArn: `arn:aws:events:us-east-1:${A}:rule/logsyncerfunctionschedule` })).decision, 'Allowed');
    assert.equal((await gate.evaluate({ principal: 'service:events.amazonaws.com', request: req, sourceArn: `arn:aws:events:us-east-1:${A}:rule/someone-elses` })).decision, 'ImplicitlyDenied');
  });

  test('a dead-letter queue takes EventBridge\'s messages only from its own subsystem\'s rules (queue policy, aws:SourceArn)', async () => {
    const send = (q) => ({
      method: 'POST', path: '/', headers: { host: 'sqs.us-east-1.amazonaws.com', authorization: auth('sqs'), 'x-amz-target': 'AmazonSQS.SendMessage', 'content-type': 'application/x-amz-json-1.0' },
      body: JSON.stringify({ QueueUrl: `https://sqs.us-east-1.amazonaws.com/${A}/${q}`, MessageBody: '{}' }),
    });
    const rule = (n) => `arn:aws:events:us-east-1:${A}:rule/${n}`;
    assert.equal((await gate.evaluate({ principal: 'service:events.amazonaws.com', request: send('backupactionsdeadletterqueue'), sourceArn: rule('backupjobcompletedrule') })).decision, 'Allowed');
    assert.equal((await gate.evaluate({ principal: 'service:events.amazonaws.com', request: send('backupactionsdeadletterqueue'), sourceArn: rule('logsyncerfunctionschedule') })).decision, 'ImplicitlyDenied');
    assert.equal((await gate.evaluate({ principal: 'service:events.amazonaws.com', request: send('backupactionsdeadletterqueue'), sourceArn: rule('someone-elses') })).decision, 'ImplicitlyDenied');
    assert.equal((await gate.evaluate({ principal: 'LogSyncerFunctionRole', request: send('backupactionsdeadletterqueue') })).decision, 'ImplicitlyDenied');
  });

  test('an SSE-KMS bucket adds S3\'s KMS calls: the created bucket with BucketKmsKeyArn is covered', async () => {
    const key = `arn:aws:kms:us-east-1:${A}:key/44444444-4444-4444-4444-444444444444`;
    const doc = translate({ set: [`BucketKmsKeyArn=${key}`] });
    const g = new Gate();
    g.load({ ...doc, bucketKmsKeys: { databucket: key } });
    const r = await g.evaluate({ principal: 'LogSyncerFunctionRole', request: s3req('POST', '/databucket/rds-logs/db1/x.log', 'uploadId=U') });
    assert.equal(r.decision, 'Allowed', JSON.stringify(r.closest));
    const kms = r.evaluations.filter((e) => e.action.startsWith('kms:')).map((e) => [e.action, e.context['kms:ViaService']]);
    assert.deepEqual(kms, [['kms:GenerateDataKey', 's3.us-east-1.amazonaws.com'], ['kms:Decrypt', 's3.us-east-1.amazonaws.com']]);
  });

  test('an existing SSE-KMS bucket (ExistingBucketName + ExistingBucketKmsKeyArn): its key, through S3 only', async () => {
    const key = EXISTING_BUCKET_KEY;
    const doc = translate({ set: ['ExistingBucketName=their-bucket', `ExistingBucketKmsKeyArn=${key}`] });
    const g = new Gate();
    g.load({ ...doc, bucketKmsKeys: { 'their-bucket': key } });
    const r = await g.evaluate({ principal: 'LogSyncerFunctionRole', request: s3req('PUT', '/their-bucket/rds-logs/db1/x.log') });
    assert.equal(r.decision, 'Allowed', `${r.action} ${r.resource}: ${r.closest?.why}`);
    assert.deepEqual(r.evaluations.filter((e) => e.action.startsWith('kms:')).map((e) => [e.action, e.resource, e.context['kms:ViaService']]), [['kms:GenerateDataKey', key, 's3.us-east-1.amazonaws.com']]);
    // The same key called directly (not by S3 on the role's behalf) is refused: kms:ViaService.
    const kmsReq = { method: 'POST', path: '/', headers: { host: 'kms.us-east-1.amazonaws.com', 'x-amz-target': 'TrentService.Decrypt', 'content-type': 'application/x-amz-json-1.1', authorization: auth('kms') }, body: JSON.stringify({ CiphertextBlob: 'AA==' }) };
    const direct = await g.evaluate({ principal: 'LogSyncerFunctionRole', resource: key, request: kmsReq });
    assert.equal(direct.decision, 'ImplicitlyDenied');
    assert.equal(direct.closest.sid, 'BucketKey');
    assert.match(direct.closest.why, /kms:ViaService/);
  });

  test('the template Rules refuse a bucket key that does not match the bucket, with the reason', () => {
    const run = (...set) => {
      try {
        execFileSync(path.join(ROOT, '.tools/venv/bin/python'), [path.join(HERE, 'translate.py'), '--out', path.join(tmpdir(), 'iam-gate-rules.json'), ...set.flatMap((s) => ['--set', s])], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
        return '';
      } catch (e) {
        return e.stderr;
      }
    };
    assert.match(run('ExistingBucketName=theirs', `BucketKmsKeyArn=${EXISTING_BUCKET_KEY}`), /BucketKeyMatchesTheBucket .*existing bucket's key goes in ExistingBucketKmsKeyArn/);
    assert.match(run(`ExistingBucketKmsKeyArn=${EXISTING_BUCKET_KEY}`), /ExistingBucketKeyNeedsTheBucket .*needs ExistingBucketName/);
    assert.equal(run('ExistingBucketName=theirs', `ExistingBucketKmsKeyArn=${EXISTING_BUCKET_KEY}`), '');
  });

  test('the template Rules refuse sanitized snapshots without the script\'s pin', () => {
    const run = (...set) => {
      try {
        execFileSync(path.join(ROOT, '.tools/venv/bin/python'), [path.join(HERE, 'translate.py'), '--out', path.join(tmpdir(), 'iam-gate-rules.json'), ...set.flatMap((s) => ['--set', s])], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
        return '';
      } catch (e) {
        return e.stderr;
      }
    };
    assert.match(run('SnapshotScriptSha256='), /SanitizedSnapshotsNeedTheirSettings .*needs SnapshotScriptSha256/);
    assert.equal(run('SnapshotScriptSha256=', 'EnableSanitizedSnapshots=false', 'BackupSanitize=false'), '');
  });

  test('the template before the existing-bucket fix refuses that bucket\'s key (issue 17)', async (t) => {
    const earlier = templateAt(t, 'd7b2710');
    if (!earlier) return;
    const g = await gateFor(earlier, ['ExistingBucketName=databucket'], { bucketKmsKeys: { databucket: EXISTING_BUCKET_KEY } });
    const r = await g.evaluate({ principal: 'LogSyncerFunctionRole', request: s3req('PUT', '/databucket/rds-logs/db1/x.log') });
    assert.equal(r.decision, 'ImplicitlyDenied');
    assert.equal(r.action, 'kms:GenerateDataKey');
    assert.equal(r.rule, 's3-sse-kms');
    assert.equal(r.resource, EXISTING_BUCKET_KEY);
  });

  test('unknown principals are errors', async () => {
    await assert.rejects(gate.evaluate({ principal: 'NoSuchRole', request: s3req('GET', '/databucket/x') }), /unknown principal NoSuchRole/);
  });
});

// ---- the gate can fail: a template without the statement the fix added -------------------------

/** template.yaml as it was at `rev`, or null with the test skipped when the clone lacks it. */
function templateAt(t, rev) {
  try {
    return execFileSync('git', ['-C', ROOT, 'show', `${rev}:template.yaml`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    t.skip(`git history without ${rev}`);
    return null;
  }
}

async function gateFor(templateText, set = [], extra = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'iam-gate-tpl-'));
  writeFileSync(path.join(dir, 'template.yaml'), templateText);
  // The copy's state machine definitions are read relative to it.
  symlinkSync(path.join(ROOT, 'statemachines'), path.join(dir, 'statemachines'));
  // The gate's parameters, less those the copy does not declare yet (an earlier template
  // predates parameters added since, such as SnapshotScriptSha256).
  const all = JSON.parse(readFileSync(path.join(HERE, 'fixtures/params.json'), 'utf8'));
  const declared = (k) => new RegExp(`^  ${k}:`, 'm').test(templateText);
  const params = path.join(dir, 'params.json');
  writeFileSync(params, JSON.stringify(Object.fromEntries(Object.entries(all).filter(([k]) => declared(k)))));
  const gate = new Gate();
  gate.load({ ...translate({ template: path.join(dir, 'template.yaml'), set, params }), ...extra });
  return gate;
}

describe('the gate fails where AWS would', () => {
  test('a template copy with one statement removed makes the sanitizer run fail at ecs:TagResource', async () => {
    const original = readFileSync(path.join(ROOT, 'template.yaml'), 'utf8');
    const statement = /            # RunTask with tags is also authorized[\s\S]*?ecs:CreateAction: RunTask\n/;
    assert.match(original, statement, 'template.yaml no longer has the TagTheSanitizerTaskAtLaunch statement this test removes');
    const gate = await gateFor(original.replace(statement, ''));
    const r = await gate.evaluate({ principal: 'SnapshotStepsFunctionRole', request: ecsReq('RunTask', RUN_TASK) });
    assert.equal(r.decision, 'ImplicitlyDenied');
    assert.equal(r.action, 'ecs:TagResource');
    assert.equal(r.impliedBy, 'ecs:RunTask');
    assert.equal(r.context['ecs:CreateAction'], 'RunTask');
    assert.equal(r.evaluations.find((e) => e.action === 'ecs:RunTask').decision, 'Allowed');
    assert.match(r.closest.why, /action not in the statement/);
  });

  test('the template before the fix (the bug issue 17 names) denies it: ecs:cluster is not in TagResource\'s context', async (t) => {
    const earlier = templateAt(t, '8afc4f6^');
    if (!earlier) return;
    const gate = await gateFor(earlier);
    const r = await gate.evaluate({ principal: 'SnapshotStepsFunctionRole', request: ecsReq('RunTask', RUN_TASK) });
    assert.equal(r.decision, 'ImplicitlyDenied');
    assert.equal(r.action, 'ecs:TagResource');
    assert.equal(r.closest.sid, 'WatchAndStopTheSanitizer');
    assert.match(r.closest.why, /ArnEquals ecs:cluster .*key not in the request context/);
  });
});

// ---- trust policies: which service may assume each role, from where ----------------------------

const FOREIGN = '999999999999';
const foreign = (c) => ({
  ...c,
  ...(c.sourceArn ? { sourceArn: c.sourceArn.replace(/:(123456789012|210987654321):/, `:${FOREIGN}:`) } : {}),
  ...(c.sourceAccount ? { sourceAccount: FOREIGN } : {}),
  ...(c.externalId ? { externalId: FOREIGN } : {}),
});
// Roles whose trust policy carries no source condition, and why (docs/permissions.md).
const UNCONDITIONED = {
  lambda: 'AWS documents no source keys for lambda.amazonaws.com assuming a function role',
  SanitizerExecutionRole: 'ECS documents the source keys for task roles; not relied on for the execution role',
};

describe('trust policies', () => {
  const assumes = loadCalls().filter((c) => c.op === 'assume');
  let gate;
  before(() => {
    gate = new Gate();
    gate.load(translate());
  });

  test('every role has a documented assume call in the replay', () => {
    const covered = new Set(assumes.map((c) => c.role));
    assert.deepEqual(Object.keys(translate().principals).filter((r) => !covered.has(r)), []);
  });

  test('a service acting for another account cannot assume a Sluice role (aws:SourceAccount / aws:SourceArn / sts:ExternalId)', async () => {
    const allowed = [];
    for (const c of assumes) {
      if (c.service === 'lambda.amazonaws.com' || UNCONDITIONED[c.role]) continue;
      const r = await gate.assume(foreign(c));
      if (r.decision === 'Allowed') allowed.push(`${c.id} ${c.role}`);
      else assert.match(r.closest.why, /condition failed/, c.id);
    }
    assert.deepEqual(allowed, []);
  });

  test('the wrong service cannot assume a role either', async () => {
    const r = await gate.assume({ role: 'SanitizedSnapshotStateMachineRole', service: 'events.amazonaws.com', sourceAccount: A, sourceArn: `arn:aws:events:us-east-1:${A}:rule/x` });
    assert.equal(r.decision, 'ImplicitlyDenied');
  });

  test('the template before the trust fix let another account\'s resources make the services assume its roles', async (t) => {
    const earlier = templateAt(t, '44d2a76');
    if (!earlier) return;
    const old = await gateFor(earlier);
    const opened = [];
    for (const c of assumes) {
      if (c.service === 'lambda.amazonaws.com' || UNCONDITIONED[c.role]) continue;
      if (!old.doc.principals?.[c.role]) continue; // a role added since
      if ((await old.assume(foreign(c))).decision === 'Allowed') opened.push(c.role);
    }
    assert.deepEqual([...new Set(opened)].sort(), ['CwlLogsToKinesisRole', 'SanitizedSnapshotStateMachineRole', 'SanitizedSnapshotStateMachineScheduleRole', 'SanitizerTaskRole', 'BackupActionsStateMachineRole'].sort()); // BackupExportRole had aws:SourceAccount already
  });
});

// ---- key policies: role policy + the printed key-policy statements ---------------------------

describe('key policies (key-policies.mjs)', () => {
  // Each key's policy holds only the printed statements (no account-root delegation), so a call
  // is allowed only if the role policy and the printed statement allow it together.
  async function replayWithKeyPolicies(also, edit = (docs) => docs) {
    const entries = keyPolicies(translate({ set: variant(also).set }));
    const docs = edit(keyPolicyDocuments(entries));
    const results = await replay({ also, extra: { keyPolicies: docs } });
    return { entries, results };
  }

  for (const also of ['keys+created-kms', 'keys+existing-kms']) {
    test(`every call that uses a key is allowed by role policy + printed key policy (${also})`, async () => {
      const { entries, results } = await replayWithKeyPolicies(also);
      const denied = results.filter((r) => r.result.decision !== 'Allowed');
      assert.equal(denied.length, 0, '\n' + denied.map(describeDenial).join('\n'));
      const used = new Set(results.flatMap((r) => r.result.evaluations.filter((e) => e.action.startsWith('kms:')).map((e) => e.resource)));
      const keys = entries.map((e) => e.key);
      assert.equal(keys.length, 6, keys.join(' ')); // DAS, export, source, snapshot, DR, bucket
      assert.deepEqual(keys.filter((k) => !used.has(k)), [], 'a printed key no call uses');
    });
  }

  test('without its printed statement, a key refuses the role (IAM alone is not enough)', async () => {
    const snapshotKey = 'arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222';
    const dasKey = 'arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111';
    const drop = (docs) => {
      for (const k of [snapshotKey, dasKey]) docs[k].Statement = docs[k].Statement.filter((s) => !/SnapshotStepsFunctionRole|DasTransformerFunctionRole/.test(s.Sid));
      return docs;
    };
    const { results } = await replayWithKeyPolicies('keys+created-kms', drop);
    const denied = Object.fromEntries(results.filter((r) => r.result.decision !== 'Allowed').map((r) => [r.call.id, r.result]));
    assert.deepEqual(Object.keys(denied).sort(), ['das.decrypt', 'snap.cluster.copy-encrypted', 'snap.copy-encrypted', 'snap.describe-source-key']);
    assert.equal(denied['snap.describe-source-key'].action, 'kms:DescribeKey');
    assert.equal(denied['snap.copy-encrypted'].resource, snapshotKey);
    assert.match(denied['snap.copy-encrypted'].action, /^kms:(CreateGrant|DescribeKey)$/);
    assert.equal(denied['snap.copy-encrypted'].rule, 'rds-kms-copy-restore');
    assert.equal(denied['das.decrypt'].action, 'kms:Decrypt');
  });

  test('the command line prints one header and one JSON statement list per key', () => {
    const out = execFileSync(process.execPath, [path.join(HERE, 'key-policies.mjs'), '--set', `BucketKmsKeyArn=arn:aws:kms:us-east-1:${A}:key/44444444-4444-4444-4444-444444444444`], { encoding: 'utf8' });
    const blocks = out.trim().split(/\n\n/);
    assert.equal(blocks.length, 4); // DAS, export, snapshot, bucket
    for (const b of blocks) {
      const [head, ...json] = b.split('\n');
      assert.match(head, /^# arn:aws:kms:[^ ]+: .+ \([A-Za-z]+KmsKeyArn\): .+/);
      const statements = JSON.parse(json.join('\n'));
      for (const s of statements) assert.ok(s.Sid && s.Effect === 'Allow' && s.Principal.AWS && s.Action && s.Resource === '*', JSON.stringify(s));
    }
  });
});

// ---- the line protocol ------------------------------------------------------------------------

describe('line protocol', () => {
  test('one JSON line per request, in order, ids echoed; errors are lines too', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'iam-gate-proto-'));
    const principals = path.join(dir, 'principals.json');
    writeFileSync(principals, JSON.stringify(translate()));
    const child = spawn(process.execPath, [path.join(HERE, 'gate.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const out = [];
    lines.on('line', (l) => out.push(JSON.parse(l)));
    const send = [
      { op: 'load', id: 'l', principals },
      { op: 'eval', id: 1, principal: 'LogSyncerFunctionRole', request: s3req('GET', '/databucket/rds-logs/_state/db1.json') },
      { op: 'eval', id: 2, principal: 'LogSyncerFunctionRole', request: s3req('DELETE', '/databucket/rds-logs/x') },
      { op: 'parse', id: 3, request: s3req('HEAD', '/databucket') },
      { op: 'eval', id: 4, principal: 'Nobody', request: s3req('GET', '/databucket/x') },
      { op: 'stats', id: 5 },
      { op: 'expected', id: 6, count: 1 },
      { op: 'load', id: 'l2', deployment: 'other', principals: { ...translate(), principals: {} } },
      { op: 'eval', id: 7, deployment: 'other', principal: 'LogSyncerFunctionRole', request: s3req('GET', '/databucket/x') },
      { op: 'eval', id: 8, principal: 'LogSyncerFunctionRole', request: s3req('GET', '/databucket/rds-logs/_state/db1.json') },
      { op: 'eval', id: 9, deployment: 'missing', principal: 'LogSyncerFunctionRole', request: s3req('GET', '/databucket/x') },
    ];
    for (const m of send) child.stdin.write(JSON.stringify(m) + '\n');
    child.stdin.write('not json\n');
    child.stdin.end();
    await new Promise((r) => child.on('close', r));
    assert.equal(out.length, 12);
    assert.deepEqual(out[0], { id: 'l', loaded: true, deployment: 'default', principals: out[0].principals, resourcePolicies: out[0].resourcePolicies });
    assert.equal(out[1].id, 1);
    assert.equal(out[1].decision, 'Allowed');
    assert.equal(out[2].decision, 'ImplicitlyDenied');
    assert.equal(out[2].action, 's3:DeleteObject');
    assert.equal(out[3].action, 'ListBucket');
    assert.match(out[4].error, /unknown principal/);
    assert.deepEqual(out[5], { id: 5, requests: 2, evaluations: 2, principals: 1, denials: 1, expectedDenials: 0 });
    // A denial the test meant is counted apart.
    assert.deepEqual(out[6], { id: 6, requests: 2, evaluations: 2, principals: 1, denials: 0, expectedDenials: 1 });
    // Deployments are judged each against its own document; unnamed requests use `default`.
    assert.equal(out[7].deployment, 'other');
    assert.match(out[8].error, /unknown principal LogSyncerFunctionRole/);
    assert.equal(out[9].decision, 'Allowed');
    assert.match(out[10].error, /no deployment "missing" loaded/);
    assert.match(out[11].error, /not JSON/);
  });
});

// Every action a role's own (non AWS managed) policies allow that no evaluation of the replay
// used, as "<role> [<Sid or policy>] <action>".
function unusedGrants(results, doc) {
  const used = new Set();
  for (const r of results) for (const e of r.result.evaluations || []) used.add(`${r.call.principal} ${e.action.toLowerCase()}`);
  const unused = [];
  for (const [name, p] of Object.entries(doc.principals)) {
    for (const pol of p.policies) {
      if (pol.managedPolicyArn) continue; // AWS managed policies are not ours to trim
      for (const st of [].concat(pol.policy.Statement)) {
        if (st.Effect !== 'Allow') continue;
        for (const a of [].concat(st.Action)) {
          const re = new RegExp('^' + a.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$');
          if (![...used].some((u) => u.startsWith(`${name} `) && re.test(u.slice(name.length + 1)))) unused.push(`${name} [${st.Sid ?? pol.name}] ${a}`);
        }
      }
    }
  }
  return unused;
}

// ---- every call the product makes, replayed --------------------------------------------------

describe('replay of fixtures/calls.jsonl', () => {
  let results;
  before(async () => {
    results = await replay();
  });

  test('every call the product makes is allowed by the template', () => {
    const denied = results.filter((r) => r.result.decision !== 'Allowed');
    const evaluations = results.reduce((n, r) => n + (r.result.evaluations?.length ?? 0), 0);
    const principals = new Set(results.map((r) => r.call.principal)).size;
    console.log(`iam-gate: ${results.length} requests, ${evaluations} evaluations, ${principals} principals, ${denied.length} denials`);
    assert.equal(denied.length, 0, '\n' + denied.map(describeDenial).join('\n'));
  });

  test('no grant goes unused: every action a role\'s own policies allow is exercised by some call', () => {
    assert.deepEqual(unusedGrants(results, translate()), [], 'granted but never used by any call in fixtures/calls.jsonl: remove the grant, or add the call that needs it');
  });

  for (const also of ['created-kms', 'existing-kms']) {
    test(`with an SSE-KMS bucket (${also}) every call is allowed, and every KMS grant is used`, async () => {
      const res = await replay({ also });
      const denied = res.filter((r) => r.result.decision !== 'Allowed');
      assert.equal(denied.length, 0, '\n' + denied.map(describeDenial).join('\n'));
      assert.ok(res.some((r) => r.result.evaluations.some((e) => e.rule === 's3-sse-kms')), 'no call used the bucket key');
      assert.deepEqual(unusedGrants(res, translate({ set: variant(also).set })), []);
    });
  }

  test('every call names its principal and the code or service that makes it', () => {
    const calls = loadCalls();
    assert.ok(calls.length > 50);
    const ids = new Set();
    for (const c of calls) {
      assert.ok(c.id && !ids.has(c.id), `duplicate or missing id ${c.id}`);
      ids.add(c.id);
      assert.ok(c.principal && c.source, c.id);
    }
  });

  test('every implied-action row cites an AWS page', () => {
    for (const row of IMPLIED) assert.match(row.doc, /^https:\/\/docs\.aws\.amazon\.com\//, row.id);
  });
});
