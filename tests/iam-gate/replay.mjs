// Replays fixtures/calls.jsonl through the gate against the SAM-translated template and
// reports every request AWS would refuse.
//
//   .tools/node/node_modules/.bin/node tests/iam-gate/replay.mjs [--template path] [--also variant] [--verbose]
//
// Exit status 1 when any call is denied. gate.test.mjs runs the same replay.

import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Gate } from './gate.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
export const PYTHON = path.join(ROOT, '.tools/venv/bin/python');

// Template parameter variants a call may need (`"variant"` in calls.jsonl), on top of
// fixtures/params.json: `--set` overrides, and `load` extras for the gate (e.g. which bucket is
// SSE-KMS under which key). Variants combine with '+' (`cluster+existing-kms`).
export const BUCKET_KEY = 'arn:aws:kms:us-east-1:123456789012:key/44444444-4444-4444-4444-444444444444';
export const EXISTING_BUCKET_KEY = 'arn:aws:kms:us-east-1:123456789012:key/55555555-5555-5555-5555-555555555555';
export const VARIANTS = {
  default: [],
  cluster: ['SnapshotSourceKind=cluster'],
  // Every snapshot key: an encrypted source, and a DR copy.
  keys: [
    'SnapshotSourceKmsKeyArn=arn:aws:kms:us-east-1:123456789012:key/66666666-6666-6666-6666-666666666666',
    'SnapshotDrRegion=us-west-2',
    'SnapshotDrKmsKeyArn=arn:aws:kms:us-west-2:123456789012:key/77777777-7777-7777-7777-777777777777',
  ],
  // The created bucket, SSE-KMS under BucketKmsKeyArn.
  'created-kms': { set: [`BucketKmsKeyArn=${BUCKET_KEY}`], extra: { bucketKmsKeys: { databucket: BUCKET_KEY } } },
  // The user's own bucket (named like the created one, so every call shape applies), SSE-KMS
  // under ExistingBucketKmsKeyArn.
  'existing-kms': { set: ['ExistingBucketName=databucket', `ExistingBucketKmsKeyArn=${EXISTING_BUCKET_KEY}`], extra: { bucketKmsKeys: { databucket: EXISTING_BUCKET_KEY } } },
  // The CloudWatch Logs export's account-level subscription filter policy.
  'account-policy': ['CwlSubscriptionMode=account-policy'],
};

/** A variant name (parts joined by '+') -> { set, extra }. */
export function variant(name = 'default') {
  const out = { set: [], extra: {} };
  for (const part of name.split('+')) {
    const v = VARIANTS[part];
    if (v === undefined) throw new Error(`unknown variant ${part}`);
    const { set = [], extra = {} } = Array.isArray(v) ? { set: v } : v;
    out.set.push(...set);
    Object.assign(out.extra, extra);
  }
  return out;
}

/** Runs translate.py; returns the principals document. */
export function translate({ template = path.join(ROOT, 'template.yaml'), set = [], physical, params, account, region, stackName } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'iam-gate-'));
  const out = path.join(dir, 'principals.json');
  const args = [path.join(HERE, 'translate.py'), '--template', template, '--out', out];
  if (params) args.push('--params', params);
  if (account) args.push('--account', account);
  if (region) args.push('--region', region);
  if (stackName) args.push('--stack-name', stackName);
  for (const kv of set) args.push('--set', kv);
  if (physical) {
    const f = path.join(dir, 'physical.json');
    writeFileSync(f, JSON.stringify(physical));
    args.push('--physical', f);
  }
  execFileSync(PYTHON, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8'));
}

export function loadCalls(file = path.join(HERE, 'fixtures/calls.jsonl')) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** Evaluates every call; returns [{call, result}] in order. */
// `also` names variants every call is replayed under besides its own (e.g. 'existing-kms':
// a call of variant `cluster` then runs under `cluster+existing-kms`).
export async function replay({ template, calls = loadCalls(), also, extra = {} } = {}) {
  const gates = {};
  const results = [];
  for (const call of calls) {
    const own = call.variant ?? 'default';
    const name = also ? (own === 'default' ? also : `${own}+${also}`) : own;
    if (!gates[name]) {
      const v = variant(name);
      gates[name] = new Gate();
      gates[name].load({ ...translate({ template, set: v.set }), ...v.extra, ...extra });
    }
    let result;
    try {
      result = call.op === 'assume' ? await gates[name].assume(call) : await gates[name].evaluate(call);
    } catch (e) {
      result = { decision: 'Error', error: e.message };
    }
    results.push({ call, result });
  }
  return results;
}

/** One human-readable paragraph per refused call. */
export function describe({ call, result }) {
  if (result.error) return `${call.id} (${call.principal ?? call.role}): ERROR ${result.error}`;
  if (call.op === 'assume') {
    return `${call.id}: ${result.decision} — ${call.service} sts:AssumeRole on ${call.role} (${result.resource})\n    made by ${call.source}\n    context: ${JSON.stringify({ sourceArn: call.sourceArn, sourceAccount: call.sourceAccount, externalId: call.externalId })}` + (result.closest ? `\n    closest: ${result.closest.why}` : '');
  }
  const lines = [`${call.id}: ${result.decision} — ${call.principal} ${result.action} on ${result.resource}` + (result.impliedBy ? ` (implied by ${result.impliedBy}: ${result.doc})` : '')];
  lines.push(`    made by ${call.source}`);
  if (result.closest) lines.push(`    closest: ${result.closest.policy ?? ''}${result.closest.sid ? ` [${result.closest.sid}]` : ''}: ${result.closest.why}`);
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ti = process.argv.indexOf('--template');
  const template = ti > 0 ? path.resolve(process.argv[ti + 1]) : undefined;
  const verbose = process.argv.includes('--verbose');
  const ai = process.argv.indexOf('--also');
  const results = await replay({ template, also: ai > 0 ? process.argv[ai + 1] : undefined });
  const denied = results.filter((r) => r.result.decision !== 'Allowed');
  for (const r of verbose ? results : denied) {
    if (r.result.decision === 'Allowed') {
      console.log(`${r.call.id}: Allowed ${r.result.evaluations.map((e) => `${e.action} ${e.resource}`).join(' | ')}`);
    } else console.log(describe(r));
  }
  const evaluations = results.reduce((n, r) => n + (r.result.evaluations?.length ?? 0), 0);
  const principals = new Set(results.map((r) => r.call.principal)).size;
  console.log(`iam-gate: ${results.length} requests, ${evaluations} evaluations, ${principals} principals, ${denied.length} denials`);
  process.exit(denied.length ? 1 : 0);
}
