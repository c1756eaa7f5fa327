// Interop check: the independent, standard @stomp/stompjs client (v7), unchanged, against the
// Alphintra Support STOMP broker. Driven by tests/api/interop.rs; can also be run by hand:
//
//   BASE_URL=http://127.0.0.1:8080 CUSTOMER_TOKEN=... AGENT_TOKEN=... TICKET_ID=... node stompjs_chat.mjs
//
// On success prints one JSON line with what was observed and exits 0; on any failure, or after
// 15 s overall, prints the reason to stderr and exits 1.

import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

// Node 20 has no global WebSocket; stompjs opens `new WebSocket(brokerURL, protocols)` itself.
globalThis.WebSocket = WebSocket;

const OVERALL_TIMEOUT_MS = 15_000;
let step = 'starting';
let finished = false;

function fail(reason) {
  if (finished) return;
  finished = true;
  process.stderr.write(`stompjs interop FAILED at step "${step}": ${reason}\n`);
  process.exit(1);
}

const overall = setTimeout(() => fail(`overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);

function env(name) {
  const value = process.env[name];
  if (!value) fail(`environment variable ${name} is not set`);
  return value;
}

const baseUrl = env('BASE_URL').replace(/\/+$/, '');
const wsBase = baseUrl.replace(/^http/, 'ws');
const customerToken = env('CUSTOMER_TOKEN');
const agentToken = env('AGENT_TOKEN');
const ticketId = env('TICKET_ID');

const messagesTopic = `/topic/tickets/${ticketId}/messages`;
const typingTopic = `/topic/tickets/${ticketId}/typing`;

/** A promise with its resolve/reject exposed. */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Received MESSAGE frames (with parsed JSON bodies), awaited by predicate. */
class Inbox {
  constructor(name) {
    this.name = name;
    this.items = [];
    this.waiters = [];
  }

  push(message) {
    let json;
    try {
      json = JSON.parse(message.body);
    } catch (error) {
      fail(`${this.name}: MESSAGE body is not JSON (${error.message}): ${message.body}`);
      return;
    }
    const item = { headers: message.headers, json };
    this.items.push(item);
    this.waiters = this.waiters.filter(({ predicate, resolve }) => {
      if (!predicate(item)) return true;
      resolve(item);
      return false;
    });
  }

  /** Resolves with the first message (already received or still to come) matching `predicate`. */
  next(predicate) {
    const found = this.items.find(predicate);
    if (found) return Promise.resolve(found);
    const { promise, resolve } = deferred();
    this.waiters.push({ predicate, resolve });
    return promise;
  }
}

/** A stompjs Client that fails the run on any STOMP ERROR or unexpected close. */
function makeClient(name, path, connectHeaders) {
  const connected = deferred();
  const state = { closing: false };
  const client = new Client({
    brokerURL: `${wsBase}${path}`,
    connectHeaders,
    heartbeatIncoming: 1000,
    heartbeatOutgoing: 1000,
    reconnectDelay: 0,
    debug: () => {},
    onConnect: (frame) => connected.resolve(frame),
    onStompError: (frame) => fail(`${name}: STOMP ERROR ${frame.headers.message ?? ''} ${frame.body ?? ''}`.trim()),
    onWebSocketError: (event) => fail(`${name}: WebSocket error ${event?.message ?? event?.type ?? ''}`.trim()),
    onWebSocketClose: (event) => {
      if (!state.closing) fail(`${name}: WebSocket closed unexpectedly (code ${event?.code})`);
    },
    onUnhandledMessage: (message) => fail(`${name}: unexpected MESSAGE ${message.headers.destination}`),
  });
  return { name, client, connected: connected.promise, state };
}

/** Resolves when the RECEIPT for `receiptId` arrives; register before sending the frame. */
function receipt(client, receiptId) {
  const { promise, resolve } = deferred();
  client.watchForReceipt(receiptId, (frame) => resolve(frame));
  return promise;
}

/** SUBSCRIBE with a receipt, so that the subscription is known to be in place before anyone sends. */
async function subscribe(client, destination, inbox, receiptId) {
  const done = receipt(client, receiptId);
  client.subscribe(destination, (message) => inbox.push(message), { receipt: receiptId });
  await done;
}

const isPositiveInteger = (value) => Number.isInteger(value) && value > 0;

async function main() {
  const agent = makeClient('agent', '/ws', { Authorization: `Bearer ${agentToken}` });
  const customer = makeClient('customer', '/ws/support', { passcode: customerToken });

  step = 'connect';
  agent.client.activate();
  customer.client.activate();
  const [agentConnected, customerConnected] = await Promise.all([agent.connected, customer.connected]);

  step = 'subscribe';
  const agentMessages = new Inbox('agent messages');
  const agentTyping = new Inbox('agent typing');
  const customerMessages = new Inbox('customer messages');
  await subscribe(agent.client, messagesTopic, agentMessages, 'sub-agent-messages');
  await subscribe(agent.client, typingTopic, agentTyping, 'sub-agent-typing');
  await subscribe(customer.client, messagesTopic, customerMessages, 'sub-customer-messages');

  step = 'typing';
  customer.client.publish({ destination: `/app/tickets/${ticketId}/typing`, body: JSON.stringify({ typing: true }) });
  const typing = await agentTyping.next((item) => item.json.typing === true);

  step = 'customer message';
  const text = 'hello from stompjs';
  const customerReceipt = receipt(customer.client, 'm1');
  customer.client.publish({
    destination: `/app/tickets/${ticketId}/messages`,
    body: JSON.stringify({ message: text, timestamp: new Date().toISOString() }),
    headers: { receipt: 'm1' },
  });
  const receiptFrame = await customerReceipt;
  step = 'customer message reaches the agent';
  const seenByAgent = await agentMessages.next((item) => item.json.content === text);
  if (!isPositiveInteger(seenByAgent.json.seq)) {
    fail(`agent got the message without a positive integer seq: ${JSON.stringify(seenByAgent.json)}`);
  }

  step = 'agent reply via /app/chat_message';
  const replyText = 'reply from agent';
  const agentReceipt = receipt(agent.client, 'm2');
  agent.client.publish({
    destination: '/app/chat_message',
    body: JSON.stringify({ ticketId, message: replyText, timestamp: new Date().toISOString() }),
    headers: { receipt: 'm2' },
  });
  await agentReceipt;
  step = 'agent reply reaches the customer';
  const seenByCustomer = await customerMessages.next((item) => item.json.content === replyText);
  if (!isPositiveInteger(seenByCustomer.json.seq) || seenByCustomer.json.seq <= seenByAgent.json.seq) {
    fail(`customer got the reply with seq ${seenByCustomer.json.seq}, after ${seenByAgent.json.seq}`);
  }

  step = 'deactivate';
  agent.state.closing = true;
  customer.state.closing = true;
  await Promise.all([agent.client.deactivate(), customer.client.deactivate()]);

  const observed = {
    ok: true,
    agentConnected: { version: agentConnected.headers.version, heartBeat: agentConnected.headers['heart-beat'] },
    customerConnected: {
      version: customerConnected.headers.version,
      heartBeat: customerConnected.headers['heart-beat'],
    },
    typing: typing.json,
    receipt: receiptFrame.headers['receipt-id'],
    agentSaw: {
      destination: seenByAgent.headers.destination,
      content: seenByAgent.json.content,
      seq: seenByAgent.json.seq,
      senderType: seenByAgent.json.senderType,
    },
    customerSaw: {
      destination: seenByCustomer.headers.destination,
      content: seenByCustomer.json.content,
      seq: seenByCustomer.json.seq,
      senderType: seenByCustomer.json.senderType,
    },
  };
  finished = true;
  clearTimeout(overall);
  process.stdout.write(`${JSON.stringify(observed)}\n`);
  process.exit(0);
}

main().catch((error) => fail(error?.stack ?? String(error)));
