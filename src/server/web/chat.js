// The chat page: a conversation with the worker through /v1/chat/completions, streamed as
// Server-Sent Events read from fetch's body. Model output is only ever set as textContent.
'use strict';

const KEY_STORAGE = 'rbees-api-key';

const $ = (id) => document.getElementById(id);

const state = {
  model: null,
  keyRequired: false,
  key: sessionStorage.getItem(KEY_STORAGE) || '',
  messages: [], // the conversation so far, without the system prompt
  controller: null, // the running reply's AbortController
};

function setStatus(text) {
  $('status').textContent = text || '';
}

function authHeaders() {
  const h = { 'Content-Type': 'application/json' };
  if (state.key) h.Authorization = 'Bearer ' + state.key;
  return h;
}

function showKeyForm(show) {
  $('key-form').hidden = !show;
  if (show) $('api-key').focus();
}

// /health is open: it names the model, device and context, and whether a key is needed.
async function loadHealth() {
  let health;
  try {
    const res = await fetch('/health', { cache: 'no-store' });
    health = await res.json();
  } catch (e) {
    $('info').textContent = 'server unreachable; retrying…';
    setTimeout(loadHealth, 2000);
    return;
  }
  if (health.status !== 'healthy') {
    $('info').textContent = 'server ' + health.status + '…';
    setTimeout(loadHealth, 1000);
    return;
  }
  state.model = health.model;
  state.keyRequired = Boolean(health.api_key_required);
  $('info').textContent = health.model + ' · ' + health.device + ' · context ' + health.context_length + ' tokens';
  showKeyForm(state.keyRequired && !state.key);
}

function addMessage(role, text) {
  const el = document.createElement('div');
  el.className = 'message ' + role;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  el.append(body);
  $('log').append(el);
  el.scrollIntoView({ block: 'end' });
  return el;
}

function setMeta(el, text) {
  let meta = el.querySelector('.meta');
  if (!meta) {
    meta = document.createElement('span');
    meta.className = 'meta';
    el.append(meta);
  }
  meta.textContent = text;
}

function setRunning(running) {
  $('send').hidden = running;
  $('stop').hidden = !running;
  $('prompt').disabled = running;
}

function numberField(id) {
  const input = $(id);
  const value = Number(input.value);
  if (input.value === '' || !Number.isFinite(value)) return undefined;
  return value;
}

// Reads an SSE body: calls onData with each event's data (its `data:` lines joined).
async function readEvents(body, onData) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r/g, '');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data && onData(data) === false) return;
    }
  }
}

function errorText(status, body) {
  try {
    const j = JSON.parse(body);
    if (j.error && j.error.message) return j.error.message;
    if (j.message) return j.message;
  } catch (e) {
    // not JSON: the text as it is
  }
  return 'HTTP ' + status + (body ? ': ' + body : '');
}

async function send(text) {
  setStatus('');
  // "New chat" during the reply starts a new array: this reply stays with its own conversation.
  const conversation = state.messages;
  conversation.push({ role: 'user', content: text });
  addMessage('user', text);
  const reply = addMessage('assistant', '');
  reply.classList.add('streaming');
  const replyText = reply.querySelector('.text');

  const system = $('system').value.trim();
  const request = {
    model: state.model || undefined,
    messages: system ? [{ role: 'system', content: system }, ...conversation] : conversation,
    stream: true,
    stream_options: { include_usage: true },
    temperature: numberField('temperature'),
    max_tokens: numberField('max-tokens'),
  };

  const controller = new AbortController();
  state.controller = controller;
  setRunning(true);
  const started = performance.now();
  let firstAt = null;
  let lastAt = null;
  let pieces = 0;
  let usage = null;
  let finish = null;
  let outcome = 'done';
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: authHeaders(),
      body: JSON.stringify(request),
      signal: controller.signal,
    });
    if (!res.ok) {
      const body = await res.text();
      if (res.status === 401) {
        state.key = '';
        sessionStorage.removeItem(KEY_STORAGE);
        showKeyForm(true);
      }
      throw new Error(errorText(res.status, body));
    }
    await readEvents(res.body, (data) => {
      if (data === '[DONE]') return false;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message || 'the server failed');
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices || []) {
        const piece = choice.delta && choice.delta.content;
        if (piece) {
          const now = performance.now();
          if (firstAt === null) firstAt = now;
          lastAt = now;
          pieces += 1;
          replyText.textContent += piece;
          reply.scrollIntoView({ block: 'end' });
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      return true;
    });
  } catch (e) {
    if (e.name === 'AbortError') {
      outcome = 'stopped';
    } else {
      outcome = 'failed';
      setStatus(e.message);
    }
  } finally {
    state.controller = null;
    setRunning(false);
    reply.classList.remove('streaming');
  }

  const content = replyText.textContent;
  if (content) conversation.push({ role: 'assistant', content });
  const tokens = usage ? usage.completion_tokens : pieces;
  const parts = [tokens + (tokens === 1 ? ' token' : ' tokens')];
  // The decoding rate: tokens after the first over the time since the first arrived.
  if (firstAt !== null && lastAt > firstAt && tokens > 1) {
    parts.push(((tokens - 1) / ((lastAt - firstAt) / 1000)).toFixed(1) + ' tokens/s');
  }
  if (firstAt !== null) parts.push('first after ' + Math.round(firstAt - started) + ' ms');
  if (outcome === 'stopped') parts.push('stopped');
  else if (outcome === 'failed') parts.push('failed');
  else if (finish) parts.push(finish === 'length' ? 'max tokens reached' : 'finished (' + finish + ')');
  setMeta(reply, parts.join(' · '));
  reply.dataset.outcome = outcome;
  reply.dataset.tokens = String(tokens);
  $('prompt').focus();
}

function init() {
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('prompt').value.trim();
    if (!text || state.controller) return;
    if (state.keyRequired && !state.key) {
      setStatus('Enter the API key first.');
      showKeyForm(true);
      return;
    }
    $('prompt').value = '';
    send(text);
  });
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('stop').addEventListener('click', () => {
    if (state.controller) state.controller.abort();
  });
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.key = $('api-key').value.trim();
    if (!state.key) return;
    sessionStorage.setItem(KEY_STORAGE, state.key);
    $('api-key').value = '';
    showKeyForm(false);
    setStatus('');
    $('prompt').focus();
  });
  $('new-chat').addEventListener('click', () => {
    if (state.controller) state.controller.abort();
    state.messages = [];
    $('log').replaceChildren();
    setStatus('');
    $('prompt').focus();
  });
  loadHealth();
}

init();
