#!/usr/bin/env node
// Runs one ASL file from statemachines/ with aws-local-stepfunctions, the real engine, and
// prints the execution's outcome and event log as one JSON document on stdout.
//
// Every Lambda task is served by a function running on the test bed's local Lambda host
// (crates/testbed): the runner POSTs the payload to its Invoke API and, when the function
// returns an error, rethrows it with `name = errorType`, so Retry/Catch match for real.
// Waits and retry intervals are overridden to zero.
//
// Usage: node run.mjs --definition FILE [--input JSON] [--subst JSON] [--lambda-endpoint URL] [--principal ROLE]
//                     [--context JSON] [--mocks JSON]
//   --subst   values for ${Placeholders} (every placeholder must be given one)
//   --mocks   results for non-Lambda tasks, by state name
// Needs Node >= 22 and SLUICE_NODE_MODULES (the .tools/node folder) to find the engine.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    definition: { type: 'string' },
    input: { type: 'string', default: '{}' },
    subst: { type: 'string', default: '{}' },
    'lambda-endpoint': { type: 'string' },
    principal: { type: 'string' },
    context: { type: 'string' },
    mocks: { type: 'string', default: '{}' },
  },
});

function fail(message) {
  process.stderr.write(`asl-runner: ${message}\n`);
  process.exit(2);
}

if (!args.definition) fail('--definition is required');
const toolsDir = process.env.SLUICE_NODE_MODULES
  ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../.tools/node');
const require = createRequire(path.join(toolsDir, 'package.json'));
const { StateMachine } = require('aws-local-stepfunctions');

// --- ${Placeholder} substitution, as SAM's DefinitionSubstitutions does -----------------
const substitutions = JSON.parse(args.subst);
let text = readFileSync(args.definition, 'utf8');
text = text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, name) => {
  if (!(name in substitutions)) fail(`no substitution given for \${${name}} in ${args.definition}`);
  return String(substitutions[name]);
});
const definition = JSON.parse(text);

// --- Collect every state, including those inside Parallel branches and Map iterators ----
function collectStates(machine, out = []) {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    out.push([name, state]);
    for (const branch of state.Branches ?? []) collectStates(branch, out);
    if (state.Iterator) collectStates(state.Iterator, out);
    if (state.ItemProcessor) collectStates(state.ItemProcessor, out);
  }
  return out;
}
const states = collectStates(definition);

// --- Lambda tasks → the local Lambda host ------------------------------------------------
const endpoint = args['lambda-endpoint'];
const mocks = JSON.parse(args.mocks);

function functionName(nameOrArn) {
  // arn:aws:lambda:region:account:function:NAME[:qualifier] or a bare name
  const m = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(nameOrArn);
  return m ? m[1] : nameOrArn;
}

class TaskError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

async function invoke(name, payload) {
  if (!endpoint) fail('a Lambda task ran but no --lambda-endpoint was given');
  const url = `${endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`;
  let res;
  try {
    // With --principal (the state machine's role), the invocation is signed as that role's, so
    // the test bed's IAM gate in front of the host judges it (the signature itself is not checked).
    const headers = args.principal
      ? { authorization: `AWS4-HMAC-SHA256 Credential=${args.principal}/20261206/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0` }
      : {};
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(payload ?? null) });
  } catch (e) {
    throw new TaskError('Lambda.ServiceException', `local Lambda host unreachable: ${e.message}`);
  }
  const body = await res.text();
  if (res.status === 403) throw new TaskError('Lambda.AWSLambdaException', body);
  if (res.status === 404) throw new TaskError('Lambda.ResourceNotFoundException', body);
  if (res.status === 429) throw new TaskError('Lambda.TooManyRequestsException', body);
  if (res.status >= 500) throw new TaskError('Lambda.ServiceException', body);
  const value = body.length ? JSON.parse(body) : null;
  if (res.headers.get('x-amz-function-error')) {
    // As in AWS: Error is the errorType, Cause the error payload as a JSON string.
    throw new TaskError(value?.errorType ?? 'Lambda.Unknown', JSON.stringify(value));
  }
  return value;
}

const taskResourceLocalHandlers = {};
const retryIntervalOverrides = {};
const waitTimeOverrides = {};
for (const [name, state] of states) {
  if (state.Retry) retryIntervalOverrides[name] = 0;
  if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
  if (state.Type !== 'Task') continue;
  const resource = state.Resource;
  if (name in mocks) {
    taskResourceLocalHandlers[name] = async () => mocks[name];
  } else if (/^arn:[^:]+:states:::lambda:invoke$/.test(resource)) {
    // Optimised integration: input is the Parameters {FunctionName, Payload}.
    taskResourceLocalHandlers[name] = async (input) => {
      const payload = await invoke(functionName(input.FunctionName), input.Payload);
      return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
    };
  } else if (/^arn:[^:]+:lambda:/.test(resource)) {
    taskResourceLocalHandlers[name] = async (input) => invoke(functionName(resource), input);
  } else {
    taskResourceLocalHandlers[name] = async () => {
      throw new TaskError('States.Runtime', `no local handler for ${resource} in state ${name}: pass --mocks`);
    };
  }
}

// --- Run ----------------------------------------------------------------------------------
const input = JSON.parse(args.input);
const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
const context = args.context ? JSON.parse(args.context) : undefined;
const execution = machine.run(input, {
  overrides: { taskResourceLocalHandlers, retryIntervalOverrides, waitTimeOverrides },
  ...(context ? { context } : {}),
});

const events = [];
const collecting = (async () => {
  for await (const event of execution.eventLogs) events.push(event);
})();

const report = {};
try {
  report.output = await execution.result;
  report.status = 'SUCCEEDED';
} catch (e) {
  report.status = 'FAILED';
  // The engine wraps the failure in an ExecutionError; report what failed the execution.
  const inner = e.name === 'ExecutionError' && e.cause instanceof Error ? e.cause : e;
  report.error = inner.name;
  report.cause = inner.message;
}
await collecting;
const failed = events.find((ev) => ev.type === 'ExecutionFailed');
if (failed) {
  report.error = failed.Error;
  report.cause = typeof failed.Cause === 'string' ? failed.Cause : JSON.stringify(failed.Cause);
}
report.events = events;
process.stdout.write(JSON.stringify(report) + '\n');
