// Drives the daemon's OpenAI-compatible API with the official `openai` npm package: completions and
// chat completions, streaming and not, checking the text against the transformers reference and
// the usage counts. Environment: RBEES_BASE_URL (http://HOST:PORT/v1), RBEES_API_KEY, RBEES_REF_JSON.
// Exits non-zero on the first failed assertion.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// ES module imports ignore NODE_PATH; require() honours it, and the package ships CommonJS too.
const require = createRequire(import.meta.url);
const openai = require('openai');
const OpenAI = openai.default ?? openai.OpenAI;

const baseURL = process.env.RBEES_BASE_URL;
const apiKey = process.env.RBEES_API_KEY;
const cases = JSON.parse(readFileSync(process.env.RBEES_REF_JSON, 'utf8')).cases;
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });

async function collect(stream) {
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      text += choice.text ?? choice.delta?.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, usage, finish };
}

// /v1/models lists the one model, named as the model directory.
const models = await client.models.list();
assert.equal(models.data.length, 1);
assert.equal(models.data[0].id, 'wp-llama-5m');
const model = models.data[0].id;

// models.retrieve: the served model by its id; another id is the SDK's NotFoundError.
const retrieved = await client.models.retrieve(model);
assert.equal(retrieved.id, model);
assert.equal(retrieved.object, 'model');
await assert.rejects(client.models.retrieve('gpt-4o-nonexistent'),
  (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
await assert.rejects(client.completions.create({ model: 'gpt-4o-nonexistent', prompt: 'x', max_tokens: 1 }),
  (e) => e instanceof OpenAI.NotFoundError && e.param === 'model');

// A batch of prompts with n choices each: choice p * n + i, every prompt's greedy continuation.
{
  const batch = await client.completions.create({
    model, prompt: [cases[0].prompt, cases[1].prompt], n: 2, max_tokens: 8, temperature: 0 });
  assert.equal(batch.choices.length, 4);
  for (const [k, choice] of batch.choices.entries()) {
    assert.equal(choice.index, k);
    const ref = cases[Math.floor(k / 2)];
    const want = await client.completions.create({ model, prompt: ref.prompt, max_tokens: 8, temperature: 0 });
    assert.equal(choice.text, want.choices[0].text, `choice ${k}`);
  }
  assert.equal(batch.usage.completion_tokens, 32);
  assert.equal(batch.usage.prompt_tokens, cases[0].input_ids.length + cases[1].input_ids.length);
}

// Completions: greedy output is the reference continuation, non-streaming and streaming.
for (const c of cases) {
  const n = c.greedy_ids.length;
  const res = await client.completions.create({ model, prompt: c.prompt, max_tokens: n, temperature: 0 });
  assert.equal(res.object, 'text_completion');
  assert.equal(res.choices.length, 1);
  assert.equal(res.choices[0].text, c.greedy_text, `completion of ${JSON.stringify(c.prompt)}`);
  assert.equal(res.choices[0].finish_reason, 'length');
  assert.equal(res.usage.prompt_tokens, c.input_ids.length);
  assert.equal(res.usage.completion_tokens, n);
  assert.equal(res.usage.total_tokens, c.input_ids.length + n);

  const stream = await client.completions.create({
    model, prompt: c.prompt, max_tokens: n, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  const s = await collect(stream);
  assert.equal(s.text, c.greedy_text, `streamed completion of ${JSON.stringify(c.prompt)}`);
  assert.equal(s.finish, 'length');
  assert.ok(s.usage, 'the last streamed chunk carries usage');
  assert.equal(s.usage.prompt_tokens, c.input_ids.length);
  assert.equal(s.usage.completion_tokens, n);
}

// Chat completions through the model's template: streaming and not give the same greedy text and usage.
const messages = [{ role: 'user', content: 'Who was Prince Andrew?' }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0 });
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.role, 'assistant');
const content = chat.choices[0].message.content;
assert.equal(typeof content, 'string');
assert.ok(content.length > 0);
assert.ok(['length', 'stop'].includes(chat.choices[0].finish_reason));
assert.ok(chat.usage.prompt_tokens > 0);
assert.ok(chat.usage.completion_tokens > 0 && chat.usage.completion_tokens <= 24);
assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);
if (chat.choices[0].finish_reason === 'length') assert.equal(chat.usage.completion_tokens, 24);

const chatStream = await client.chat.completions.create({
  model, messages, max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true },
});
const cs = await collect(chatStream);
assert.equal(cs.text, content);
assert.equal(cs.finish, chat.choices[0].finish_reason);
assert.deepEqual(
  [cs.usage.prompt_tokens, cs.usage.completion_tokens],
  [chat.usage.prompt_tokens, chat.usage.completion_tokens]);

// The chat prompt is the template's rendering: the same text as a raw completion gives the same output.
// (Checked through the tokenizer: the chat's prompt_tokens exceed the message's own tokens.)
const own = await fetch(baseURL.replace(/\/v1$/, '') + '/tokenize', {
  method: 'POST', headers: { Authorization: `Bearer ${apiKey}` },
  body: JSON.stringify({ content: messages[0].content }),
}).then((r) => r.json());
assert.ok(chat.usage.prompt_tokens > own.tokens.length);

// Errors come back as the SDK's typed errors.
await assert.rejects(
  client.completions.create({ model, prompt: 'x', max_tokens: 4, temperature: 9 }),
  (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
const wrong = new OpenAI({ baseURL, apiKey: 'not-the-key', maxRetries: 0, timeout: 10000 });
await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);

// Structured output: response_format json_schema (streaming and not), json_object, and a GBNF
// grammar, checked with a validator of the schema keywords used here (independent of the server).
function validate(schema, v, defs = schema.$defs) {
  if (schema.$ref) return validate(defs[schema.$ref.replace('#/$defs/', '')], v, defs);
  if (schema.anyOf) return schema.anyOf.some((s) => validate(s, v, defs));
  if (schema.enum) return schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(v));
  switch (schema.type) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'integer':
      return Number.isInteger(v) && !(v < schema.minimum) && !(v > schema.maximum);
    case 'string':
      return typeof v === 'string' && !([...v].length > schema.maxLength) &&
        (!schema.pattern || new RegExp(schema.pattern, 'u').test(v));
    case 'array':
      return Array.isArray(v) && !(v.length < schema.minItems) && !(v.length > schema.maxItems) &&
        v.every((x) => validate(schema.items, x, defs));
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
      const props = schema.properties ?? {};
      if (schema.additionalProperties === false && Object.keys(v).some((k) => !(k in props))) return false;
      if ((schema.required ?? []).some((k) => !(k in v))) return false;
      return Object.entries(v).every(([k, x]) => !(k in props) || validate(props[k], x, defs));
    }
    default: throw new Error(`validator: unhandled schema ${JSON.stringify(schema)}`);
  }
}
const schemas = [
  { type: 'object', properties: { title: { type: 'string', maxLength: 24 }, year: { type: 'integer', minimum: 1800, maximum: 1900 },
    tags: { type: 'array', items: { enum: ['war', 'peace', 'love'] }, minItems: 1, maxItems: 3 } },
    required: ['title', 'year', 'tags'], additionalProperties: false },
  { $defs: { who: { type: 'object', properties: { name: { type: 'string', pattern: '^[A-Z][a-z]{1,11}$' },
    age: { anyOf: [{ type: 'integer', minimum: 0, maximum: 99 }, { type: 'null' }] } }, required: ['name', 'age'],
    additionalProperties: false } },
    type: 'object', properties: { hero: { $ref: '#/$defs/who' }, friends: { type: 'array', items: { $ref: '#/$defs/who' }, maxItems: 2 } },
    required: ['hero', 'friends'], additionalProperties: false },
];
for (const [i, schema] of schemas.entries()) {
  const response_format = { type: 'json_schema', json_schema: { name: `s${i}`, strict: true, schema } };
  const req = { model, messages, max_tokens: 300, temperature: 0.8, seed: 11, response_format };
  const res = await client.chat.completions.create(req);
  assert.equal(res.choices[0].finish_reason, 'stop');
  const text = res.choices[0].message.content;
  assert.ok(validate(schema, JSON.parse(text)), `schema ${i}: ${text}`);
  const streamed = await collect(await client.chat.completions.create({ ...req, stream: true }));
  assert.equal(streamed.text, text);
  assert.equal(streamed.finish, 'stop');
}
const objectRes = await client.chat.completions.create({
  model, messages, max_tokens: 3, response_format: { type: 'json_object' } });
assert.equal(objectRes.choices[0].finish_reason, 'length');
assert.ok(objectRes.choices[0].message.content.startsWith('{'));
const gram = await client.completions.create({
  model, prompt: 'x', max_tokens: 40, temperature: 0.8, seed: 3, grammar: 'root ::= [a-z]{2,6} ("-" [a-z]{2,6}){1,3} "."' });
assert.equal(gram.choices[0].finish_reason, 'stop');
assert.match(gram.choices[0].text, /^[a-z]{2,6}(-[a-z]{2,6}){1,3}\.$/);
await assert.rejects(
  client.chat.completions.create({ model, messages, response_format: { type: 'json_schema',
    json_schema: { name: 'x', schema: { type: 'object', not: {} } } } }),
  (e) => e instanceof OpenAI.BadRequestError && e.param === 'response_format.json_schema.schema');

console.log('openai sdk checks passed');
