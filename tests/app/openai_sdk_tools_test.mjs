// Tool calls through the official `openai` npm package against the daemon serving a real model
// family's chat template (--chat-template): a named and a required call, streaming (raw chunks and
// the SDK's own accumulating stream helper) and not, each call's arguments checked against the
// function's schema, the calls sent back with their results, and the 400 for an unknown function.
// Environment: RBEES_BASE_URL, RBEES_API_KEY, RBEES_TOOL_FORMAT (llama3, hermes or mistral).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const openai = require('openai');
const OpenAI = openai.default ?? openai.OpenAI;

const client = new OpenAI({ baseURL: process.env.RBEES_BASE_URL, apiKey: process.env.RBEES_API_KEY, maxRetries: 0,
                            timeout: 120000 });
const format = process.env.RBEES_TOOL_FORMAT;
const model = (await client.models.list()).data[0].id;

const tools = [
  { type: 'function', function: {
    name: 'get_weather', description: 'The weather in a city.',
    parameters: { type: 'object', properties: {
      city: { type: 'string', maxLength: 12 },
      unit: { enum: ['celsius', 'fahrenheit'] },
      days: { type: 'integer', minimum: 1, maximum: 7 },
    }, required: ['city', 'unit', 'days'], additionalProperties: false } } },
  { type: 'function', function: {
    name: 'get_time', description: 'The time in a zone.',
    parameters: { type: 'object', properties: { tz: { type: 'string', pattern: '^[A-Z]{3}$' } },
                  required: ['tz'], additionalProperties: false } } },
];

// The arguments JSON against the schemas above.
function checkArguments(name, text) {
  const args = JSON.parse(text);
  assert.equal(typeof args, 'object');
  if (name === 'get_weather') {
    assert.deepEqual(Object.keys(args).sort(), ['city', 'days', 'unit']);
    assert.equal(typeof args.city, 'string');
    assert.ok([...args.city].length <= 12, `city ${JSON.stringify(args.city)} within maxLength`);
    assert.ok(['celsius', 'fahrenheit'].includes(args.unit));
    assert.ok(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7, `days ${args.days}`);
  } else {
    assert.equal(name, 'get_time');
    assert.deepEqual(Object.keys(args), ['tz']);
    assert.match(args.tz, /^[A-Z]{3}$/);
  }
  return args;
}

function checkId(id) {
  // Mistral's template takes back only ids of nine letters and digits.
  if (format === 'mistral') assert.match(id, /^[A-Za-z0-9]{9}$/);
  else assert.match(id, /^call_[A-Za-z0-9]+$/);
}

const messages = [{ role: 'user', content: 'What is the weather like in Moscow?' }];
// No max_tokens: the templates' tool prompts take most of the embedded model's 1024-token context,
// and under tool_choice required or named the grammar ends the output once the call is written.
const base = { model, messages, tools, temperature: 0.8, parallel_tool_calls: false };

// Named function, not streamed.
for (const seed of [1, 2, 3]) {
  const res = await client.chat.completions.create({
    ...base, seed, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  const choice = res.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice));
  assert.equal(choice.message.role, 'assistant');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  checkId(call.id);
  checkArguments(call.function.name, call.function.arguments);
}

// Required, streamed: the raw chunks, accumulated as the SDK documents.
let streamedCall = null;
{
  const stream = await client.chat.completions.create({ ...base, seed: 7, tool_choice: 'required', stream: true });
  const calls = [];
  let finish = null;
  let content = '';
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      if (choice.finish_reason) finish = choice.finish_reason;
      content += choice.delta.content ?? '';
      for (const tc of choice.delta.tool_calls ?? []) {
        if (tc.id) {
          assert.equal(tc.index, calls.length);
          assert.equal(tc.type, 'function');
          calls.push({ id: tc.id, name: tc.function.name, arguments: tc.function.arguments ?? '' });
        } else {
          calls[tc.index].arguments += tc.function.arguments ?? '';
        }
      }
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(content, '');
  assert.equal(calls.length, 1);
  checkId(calls[0].id);
  checkArguments(calls[0].name, calls[0].arguments);
  streamedCall = calls[0];
}

// The SDK's stream helper accumulates the same chunks into a final message.
{
  const runner = client.chat.completions.stream({
    ...base, seed: 11, tool_choice: { type: 'function', function: { name: 'get_time' } } });
  const final = await runner.finalChatCompletion();
  const choice = final.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  assert.equal(choice.message.tool_calls[0].function.name, 'get_time');
  checkId(choice.message.tool_calls[0].id);
  checkArguments('get_time', choice.message.tool_calls[0].function.arguments);
}

// The call and its result go back through the template; with tool_choice none the answer is content.
{
  const res = await client.chat.completions.create({
    model, tools, tool_choice: 'none', max_tokens: 8, temperature: 0,
    messages: [
      ...messages,
      { role: 'assistant', content: null, tool_calls: [{ id: streamedCall.id, type: 'function',
        function: { name: streamedCall.name, arguments: streamedCall.arguments } }] },
      { role: 'tool', tool_call_id: streamedCall.id, content: '{"temperature": -5}' },
    ] });
  assert.equal(typeof res.choices[0].message.content, 'string');
  assert.equal(res.choices[0].message.tool_calls, undefined);
}

// auto: the model may answer or call; either way the reply is well formed.
{
  const res = await client.chat.completions.create({ ...base, seed: 5, max_tokens: 16, tool_choice: 'auto' });
  const m = res.choices[0].message;
  if (m.tool_calls) for (const c of m.tool_calls) checkId(c.id);
  else assert.equal(typeof m.content, 'string');
}

// A tool_choice that names no listed function is a 400 naming the field.
await assert.rejects(
  client.chat.completions.create({ ...base, tool_choice: { type: 'function', function: { name: 'get_date' } } }),
  (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'tool_choice.function.name');

console.log(`openai sdk tool checks passed (${format})`);
