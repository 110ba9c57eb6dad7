// Drives pipefill's OpenAI-compatible routes with the official openai package, as any OpenAI client would.
// Run by io.pipefill.cli.local.OpenAiClientTest against a control plane with local workers; it writes what it saw
// to $PIPEFILL_RESULTS as JSON and the Java test checks it against the runs' records and the single-process engine.
import OpenAI from 'openai';
import { writeFileSync } from 'node:fs';

const env = process.env;
const baseURL = env.PIPEFILL_BASE_URL;
const model = env.PIPEFILL_MODEL;
// no retries: a 429 must reach the test, not be waited out
const client = new OpenAI({ baseURL, apiKey: env.PIPEFILL_API_KEY, maxRetries: 0, timeout: 120_000 });
const out = {};

async function failure(call) {
  try {
    await call();
    return { status: 'no error' };
  } catch (e) {
    return { status: e.status, errorClass: e.constructor.name, type: e.type, code: e.code, param: e.param, message: e.message };
  }
}

async function collect(stream) {
  const seen = { content: '', finishReason: null, usage: null, chunks: 0, id: null, role: null, usageNullBeforeLast: true };
  for await (const chunk of stream) {
    seen.chunks++;
    seen.id = chunk.id;
    if (chunk.usage) seen.usage = chunk.usage;
    else if (chunk.choices.length === 0 || chunk.usage !== null) seen.usageNullBeforeLast = false;
    for (const c of chunk.choices) {
      if (c.delta?.role) seen.role = c.delta.role;
      if (c.delta?.content) seen.content += c.delta.content;
      if (c.text) seen.content += c.text;
      if (c.finish_reason) seen.finishReason = c.finish_reason;
    }
  }
  return seen;
}

async function runsInFlight() {
  const headers = { Authorization: `Bearer ${env.PIPEFILL_ADMIN_TOKEN}` };
  const base = baseURL.replace(/\/v1$/, '');
  let n = 0;
  for (const state of ['QUEUED', 'RUNNING']) {
    const r = await fetch(`${base}/api/v1/runs?state=${state}`, { headers });
    n += (await r.json()).length;
  }
  return n;
}

async function quiet() {
  // a request that stopped early leaves its run decoding on to max_tokens: wait for it before filling the queue
  for (let i = 0; i < 600 && (await runsInFlight()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
}

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say something about pipelines.' },
];

// models: with the API key, and with the admin token
out.models = (await client.models.list()).data.map((m) => ({ id: m.id, object: m.object, owned_by: m.owned_by, created: m.created }));
const admin = new OpenAI({ baseURL, apiKey: env.PIPEFILL_ADMIN_TOKEN, maxRetries: 0 });
out.modelsWithAdminToken = (await admin.models.list()).data.map((m) => m.id);

// completions: a text prompt and a token-id prompt, greedy
const c = await client.completions.create({ model, prompt: 'The pipeline', max_tokens: 12, temperature: 0 });
out.completion = { id: c.id, object: c.object, text: c.choices[0].text, finishReason: c.choices[0].finish_reason, usage: c.usage };
const ids = await client.completions.create({ model, prompt: [1, 2, 3, 4, 5, 6, 7, 8], max_tokens: 4, temperature: 0 });
out.tokenIdCompletion = { id: ids.id, text: ids.choices[0].text, usage: ids.usage };

// chat: whole, then the same request streamed with usage
const chat = await client.chat.completions.create({ model, messages, max_tokens: 10, temperature: 0 });
out.chat = { id: chat.id, object: chat.object, role: chat.choices[0].message.role, content: chat.choices[0].message.content,
  finishReason: chat.choices[0].finish_reason, usage: chat.usage };
out.stream = await collect(await client.chat.completions.create({ model, messages, max_tokens: 10, temperature: 0,
  stream: true, stream_options: { include_usage: true } }));
out.completionStream = await collect(await client.completions.create({ model, prompt: 'The pipeline', max_tokens: 12,
  temperature: 0, stream: true }));

// stop sequences: stop at a character of the greedy completion, given alone and in a list
const text = out.completion.text;
const stop = text.charAt(Math.floor(text.length / 2));
out.stop = { stop, expected: text.slice(0, text.indexOf(stop)) };
const stopped = await client.completions.create({ model, prompt: 'The pipeline', max_tokens: 12, temperature: 0, stop });
out.stop.text = stopped.choices[0].text;
out.stop.finishReason = stopped.choices[0].finish_reason;
const stoppedStream = await collect(await client.completions.create({ model, prompt: 'The pipeline', max_tokens: 12,
  temperature: 0, stop: ['never-in-the-text', stop], stream: true }));
out.stop.streamText = stoppedStream.content;
out.stop.streamFinishReason = stoppedStream.finishReason;
await quiet();

// the stream on the wire, read without a client: comment lines with the prefill's progress, data lines, [DONE]
const longPrompt = Array.from({ length: 300 }, (_, i) => 1 + ((i * 37) % 250));
const wire = await fetch(`${baseURL}/completions`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${env.PIPEFILL_API_KEY}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ model, prompt: longPrompt, max_tokens: 2, temperature: 0, stream: true }),
});
const raw = await wire.text();
const frames = raw.split('\n\n').filter((f) => f.length > 0);
out.wire = {
  status: wire.status,
  contentType: wire.headers.get('content-type'),
  progressComments: frames.filter((f) => /^: prefill chunk \d+\/\d+, \d+\/300 prompt tokens$/.test(f)),
  dataFrames: frames.filter((f) => f.startsWith('data: ')).length,
  allFramesWellFormed: frames.every((f) => f.startsWith(': ') || f === 'data: [DONE]'
    || (f.startsWith('data: {') && JSON.parse(f.slice(6)).object === 'text_completion')),
  last: frames[frames.length - 1],
};
await quiet();

// seeded sampling: the same seed twice, another seed once
out.seeded = [];
for (const seed of [1234, 1234, 4321]) {
  const s = await client.completions.create({ model, prompt: 'The pipeline', max_tokens: 12, temperature: 1.0, top_p: 0.95,
    seed });
  out.seeded.push({ seed, id: s.id, text: s.choices[0].text });
}

// refusals, each the openai package's own error class
out.badKey = await failure(() => new OpenAI({ baseURL, apiKey: 'pfk_' + 'x'.repeat(43), maxRetries: 0 }).models.list());
out.revokedKey = await failure(() => new OpenAI({ baseURL, apiKey: env.PIPEFILL_REVOKED_KEY, maxRetries: 0 }).models.list());
out.unknownModel = await failure(() => client.completions.create({ model: 'no-such-deployment', prompt: 'x' }));
out.nTwo = await failure(() => client.chat.completions.create({ model, messages, n: 2 }));

// a full queue: two long streams hold both places (pipefill.max-runs-in-flight = 2), the next request gets 429;
// then both clients go away, which cancels the running run and the queued one
await quiet();
const longRequest = { model, messages, max_tokens: 4000, temperature: 0, stream: true };
const first = await client.chat.completions.create(longRequest);
const firstIterator = first[Symbol.asyncIterator]();
const firstChunk = await firstIterator.next();
out.cancelled = { running: firstChunk.value.id };
const second = await client.chat.completions.create(longRequest);
out.queueFull = await failure(() => client.completions.create({ model, prompt: 'x', max_tokens: 1 }));
first.controller.abort();
second.controller.abort();
out.cancelled.abortedAt = Date.now();

writeFileSync(env.PIPEFILL_RESULTS, JSON.stringify(out, null, 2));
console.log('openai client cases done');
