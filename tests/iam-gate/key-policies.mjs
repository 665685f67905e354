// Prints the key-policy statements the operator must add to the KMS keys Sluice uses but does
// not create (the DAS key, the export key, the snapshot source/target/DR keys, the bucket key),
// for one parameter set, from the SAM-translated template: the principals are the exact role
// ARNs of the stack, the actions and conditions those of the role statements that name the key,
// plus what AWS documents beyond them (StartExportTask; accounts a snapshot is shared with).
//
//   .tools/node/node_modules/.bin/node tests/iam-gate/key-policies.mjs \
//       [--params params.json] [--set Key=Value ...] [--physical names.json]
//       [--account ID] [--region R] [--stack-name S] [--json]
//
// --params: the stack's parameters as a JSON object (default: tests/iam-gate/fixtures/params.json);
// --physical: logical id -> physical name or ARN of the deployed stack's roles, or the output of
// `aws cloudformation describe-stack-resources --stack-name S` as it is; with --account,
// --region and --stack-name the printed role ARNs are the deployed ones (without them: the
// test bed's account 123456789012, us-east-1, stack sluice-test, roles named by logical id).
// Output: per key, one header line `# <key ARN>: <which key, and why>` and a JSON array of
// statements to paste into that key's policy "Statement" list. --json prints one object
// {"<key ARN>": {"name", "why", "statements"}} instead. gate.test.mjs checks that the role
// policies and these statements together allow every call that needs a key.

import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { translate } from './replay.mjs';

// The key parameters, what each key is for, and the service that uses it on the role's behalf.
export const KEY_PARAMETERS = [
  { param: 'DasKmsKeyArn', name: 'activity-stream (DAS) key', why: 'das-transformer decrypts the activity stream\'s data keys (kms:Decrypt, only under the audited database\'s encryption context)' },
  { param: 'BackupExportKmsKeyArn', name: 'backup export key', why: 'RDS StartExportTask encrypts the Parquet export with it; RDS creates a grant with the caller\'s rights, and the key policy must also allow what AWS lists for export keys' },
  { param: 'SnapshotSourceKmsKeyArn', name: 'snapshot source key', why: 'RDS restores and copies the encrypted production snapshot with grants it creates with snapshot-steps\' rights' },
  { param: 'SnapshotKmsKeyArn', name: 'sanitized snapshot key', why: 'RDS re-encrypts the sanitized snapshot with it (grants created with snapshot-steps\' rights); the share accounts need it to restore' },
  { param: 'SnapshotDrKmsKeyArn', name: 'DR region snapshot key', why: 'RDS in the DR region re-encrypts the copy with it (grants created with snapshot-steps\' rights)' },
  { param: 'BucketKmsKeyArn', name: 'bucket key (created bucket)', why: 'S3 encrypts and decrypts Sluice\'s objects with it on behalf of each role that writes or reads the bucket' },
  { param: 'ExistingBucketKmsKeyArn', name: 'bucket key (existing bucket)', why: 'S3 encrypts and decrypts Sluice\'s objects with it on behalf of each role that writes or reads the bucket' },
];

const arr = (x) => (x === undefined ? [] : [].concat(x));
const sidOf = (s) => String(s).replace(/[^A-Za-z0-9]/g, '');

// A role statement's resource names the key itself, or a KMS ARN pattern covering it (e.g.
// snapshot-steps' DescribeKey on every key of its region, which the key policy must allow too).
function namesKey(resource, key) {
  if (resource === key) return true;
  if (typeof resource !== 'string' || !resource.startsWith('arn:') || !resource.includes(':kms:') || !resource.includes('*')) return false;
  const pattern = resource.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${pattern}$`).test(key);
}

/** [{key, name, why, statements}] for the translated document `doc`. */
export function keyPolicies(doc) {
  const p = doc.parameters;
  const region = doc.region;
  const out = [];
  for (const k of KEY_PARAMETERS) {
    const key = p[k.param];
    if (!key) continue;
    const statements = [];
    // Every role statement that names this key: the same actions and conditions, for that role.
    for (const [role, principal] of Object.entries(doc.principals)) {
      for (const pol of principal.policies) {
        if (pol.managedPolicyArn) continue;
        for (const st of arr(pol.policy.Statement)) {
          if (st.Effect !== 'Allow' || !arr(st.Resource).some((r) => namesKey(r, key))) continue;
          const actions = arr(st.Action).filter((a) => a.startsWith('kms:'));
          if (!actions.length) continue;
          const base = { Effect: 'Allow', Principal: { AWS: principal.arn }, Resource: '*' };
          const cond = st.Condition ? JSON.parse(JSON.stringify(st.Condition)) : undefined;
          const grants = actions.filter((a) => a === 'kms:CreateGrant');
          const rest = actions.filter((a) => a !== 'kms:CreateGrant');
          const sid = `Sluice${sidOf(role)}${sidOf(st.Sid ?? pol.name)}`;
          if (rest.length) statements.push({ Sid: sid, ...base, Action: rest.length === 1 ? rest[0] : rest, ...(cond ? { Condition: cond } : {}) });
          if (grants.length) {
            // Grants only for AWS services acting for the role (RDS), never to the role itself.
            statements.push({ Sid: `${sid}Grants`, ...base, Action: 'kms:CreateGrant', Condition: { ...(cond ?? {}), Bool: { 'kms:GrantIsForAWSResource': 'true' } } });
          }
        }
      }
    }
    if (k.param === 'BackupExportKmsKeyArn' && doc.principals.BackupActionsFunctionRole) {
      // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.html (KMS key
      // permissions of the identity that calls StartExportTask): used by RDS only.
      statements.push({
        Sid: 'SluiceBackupActionsFunctionRoleExportKeyUseThroughRds',
        Effect: 'Allow',
        Principal: { AWS: doc.principals.BackupActionsFunctionRole.arn },
        Resource: '*',
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:RetireGrant'],
        Condition: { StringEquals: { 'kms:ViaService': `rds.${region}.amazonaws.com` } },
      });
    }
    if (k.param === 'SnapshotKmsKeyArn') {
      const accounts = arr(p.SnapshotShareAccounts).filter(Boolean);
      if (accounts.length) {
        // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/share-encrypted-snapshot.html
        const roots = accounts.map((a) => `arn:${doc.partition}:iam::${a}:root`);
        statements.push({ Sid: 'SluiceShareAccountsUseTheSnapshotKey', Effect: 'Allow', Principal: { AWS: roots.length === 1 ? roots[0] : roots }, Resource: '*', Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'] });
        statements.push({ Sid: 'SluiceShareAccountsGrantsForRds', Effect: 'Allow', Principal: { AWS: roots.length === 1 ? roots[0] : roots }, Resource: '*', Action: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'], Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } });
      }
    }
    if (statements.length) out.push({ key, param: k.param, name: k.name, why: k.why, statements });
  }
  // Two parameters may name the same key: one entry per key.
  const merged = new Map();
  for (const e of out) {
    const m = merged.get(e.key);
    if (!m) merged.set(e.key, { ...e });
    else {
      m.name += ` + ${e.name}`;
      m.why += `; ${e.why}`;
      for (const s of e.statements) if (!m.statements.some((x) => x.Sid === s.Sid)) m.statements.push(s);
    }
  }
  return [...merged.values()];
}

/** {key ARN: key policy} holding only the printed statements (no account-root delegation). */
export function keyPolicyDocuments(entries) {
  return Object.fromEntries(entries.map((e) => [e.key, { Version: '2012-10-17', Statement: e.statements }]));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const set = [];
  let params;
  let physical;
  let json = false;
  const where = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--set') set.push(args[++i]);
    else if (args[i] === '--account') where.account = args[++i];
    else if (args[i] === '--region') where.region = args[++i];
    else if (args[i] === '--stack-name') where.stackName = args[++i];
    else if (args[i] === '--params') params = path.resolve(args[++i]);
    else if (args[i] === '--physical') physical = JSON.parse(readFileSync(path.resolve(args[++i]), 'utf8'));
    else if (args[i] === '--json') json = true;
    else {
      console.error(`unknown argument ${args[i]}\nusage: key-policies.mjs [--params params.json] [--set Key=Value ...] [--physical names.json] [--account ID] [--region R] [--stack-name S] [--json]`);
      process.exit(2);
    }
  }
  if (physical?.StackResources) physical = Object.fromEntries(physical.StackResources.map((r) => [r.LogicalResourceId, r.PhysicalResourceId]));
  const entries = keyPolicies(translate({ params, set, physical, ...where }));
  if (json) {
    console.log(JSON.stringify(Object.fromEntries(entries.map((e) => [e.key, { name: e.name, why: e.why, statements: e.statements }])), null, 2));
  } else if (!entries.length) {
    console.log('# no customer managed key is configured: nothing to add to any key policy');
  } else {
    for (const e of entries) {
      console.log(`# ${e.key}: ${e.name} (${e.param}): ${e.why}`);
      console.log(JSON.stringify(e.statements, null, 2));
      console.log();
    }
  }
}
