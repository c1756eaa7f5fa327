// stomp-client.js — a small STOMP 1.2 client over WebSocket for the support desk's broker
// (docs/realtime.md). It authenticates twice over (`?access_token=` on the URL, which browsers
// need, and `Authorization` in CONNECT), negotiates heart-beats, reconnects with capped
// exponential backoff and jitter, re-subscribes, and for every joined ticket room fetches what it
// missed (`GET /tickets/{id}/communications?after=<lastSeq>`), delivering each communication
// exactly once and in `seq` order.
//
// Exposes: connect, disconnect, isConnected, onStateChange, subscribe, send, joinTicketRoom(id),
// leaveTicketRoom(id), sendMessage('chat_message', {ticketId, message, timestamp}), sendTyping.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// STOMP 1.2 §"Value Encoding": CONNECT and CONNECTED frames are not escaped.
function escapeHeader(value) {
  return String(value).replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/:/g, '\\c');
}

function unescapeHeader(value) {
  return value.replace(/\\([\\rnc])/g, (_, c) => ({ '\\': '\\', r: '\r', n: '\n', c: ':' })[c]);
}

export function encodeFrame(command, headers = {}, body = '') {
  const escape = command !== 'CONNECT' && command !== 'STOMP';
  let text = `${command}\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    text += escape ? `${escapeHeader(name)}:${escapeHeader(value)}\n` : `${name}:${value}\n`;
  }
  if (body) text += `content-length:${encoder.encode(body).length}\n`;
  return `${text}\n${body}\0`;
}

/** Splits a byte stream into frames; frames may share a message or span several. */
export class FrameReader {
  constructor() {
    this.buffer = new Uint8Array(0);
  }

  push(bytes) {
    const joined = new Uint8Array(this.buffer.length + bytes.length);
    joined.set(this.buffer);
    joined.set(bytes, this.buffer.length);
    this.buffer = joined;
    const frames = [];
    for (;;) {
      let start = 0;
      while (start < this.buffer.length && (this.buffer[start] === 10 || this.buffer[start] === 13)) start++;
      this.buffer = this.buffer.subarray(start); // heart-beats are bare EOLs
      if (!this.buffer.length) break;
      const head = findHeadEnd(this.buffer);
      if (!head) break;
      const lines = decoder.decode(this.buffer.subarray(0, head.end)).split(/\r?\n/);
      const command = lines.shift();
      const headers = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const name = unescapeHeader(line.slice(0, colon));
        if (!(name in headers)) headers[name] = unescapeHeader(line.slice(colon + 1)); // first wins
      }
      let bodyEnd;
      if (headers['content-length'] !== undefined) {
        bodyEnd = head.bodyStart + Number.parseInt(headers['content-length'], 10);
        if (this.buffer.length < bodyEnd + 1) break;
      } else {
        bodyEnd = this.buffer.indexOf(0, head.bodyStart);
        if (bodyEnd < 0) break;
      }
      const body = decoder.decode(this.buffer.subarray(head.bodyStart, bodyEnd));
      this.buffer = this.buffer.subarray(bodyEnd + 1);
      frames.push({ command, headers, body });
    }
    return frames;
  }
}

function findHeadEnd(bytes) {
  for (let i = 0; i < bytes.length - 1; i++) {
    if (bytes[i] !== 10) continue;
    if (bytes[i + 1] === 10) return { end: i, bodyStart: i + 2 };
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return { end: i, bodyStart: i + 3 };
  }
  return null;
}

/** Keeps one ticket's conversation gap-free and duplicate-free across live pushes and catch-ups. */
class TicketRoom {
  constructor(ticketId, handlers, lastSeq, fetchAfter) {
    this.ticketId = ticketId;
    this.handlers = handlers;
    this.lastSeq = lastSeq;
    this.fetchAfter = fetchAfter;
    this.pending = new Map();
    this.catching = null;
    this.again = false;
    this.subscriptions = [];
  }

  emit(communication) {
    this.lastSeq = communication.seq;
    if (this.handlers.onMessage) this.handlers.onMessage(communication);
  }

  /** A communication from the topic or a REST response. */
  deliver(communication) {
    if (typeof communication.seq !== 'number') {
      if (this.handlers.onEvent) this.handlers.onEvent(communication);
      return;
    }
    if (communication.seq <= this.lastSeq) return; // already shown
    if (communication.seq === this.lastSeq + 1 && !this.catching) {
      this.emit(communication);
      return;
    }
    // A gap: entries we have not seen (or may never see: customers do not get internal notes).
    this.pending.set(communication.seq, communication);
    this.catchUp();
  }

  /** Fetches everything after lastSeq, then releases what arrived meanwhile, in order. */
  catchUp() {
    if (this.catching) {
      this.again = true;
      return this.catching;
    }
    this.catching = (async () => {
      let failed = false;
      do {
        this.again = false;
        try {
          const missed = await this.fetchAfter(this.ticketId, this.lastSeq);
          for (const communication of missed.sort((a, b) => a.seq - b.seq)) {
            if (communication.seq > this.lastSeq) this.emit(communication);
          }
        } catch {
          failed = true;
        }
      } while (this.again && !failed);
      if (failed) {
        setTimeout(() => this.catchUp(), 3000);
        return;
      }
      // The fetch saw the whole conversation up to now: what is still pending came after
      // entries this user may not see, so it is in order to show it.
      for (const seq of [...this.pending.keys()].sort((a, b) => a - b)) {
        const communication = this.pending.get(seq);
        if (seq > this.lastSeq) this.emit(communication);
      }
      this.pending.clear();
    })().finally(() => {
      this.catching = null;
    });
    return this.catching;
  }
}

/**
 * Creates a client. Options:
 * - getToken({forceRefresh}) → Promise<string|null>: the access token (null: stay offline);
 * - fetchAfter(ticketId, after) → Promise<Communication[]>: catch-up over REST;
 * - url: the WebSocket endpoint (default: this origin's /ws);
 * - heartbeatMs: heart-beat interval to offer (default 10 s).
 */
export function createStompClient(options) {
  const url = options.url || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const heartbeatMs = options.heartbeatMs ?? 10000;
  const subscriptions = new Map(); // id -> {destination, handler}
  const receipts = new Map(); // receipt id -> {resolve, reject, timer}
  const rooms = new Map(); // ticket id -> TicketRoom
  const stateListeners = new Set();
  let socket = null;
  let state = 'idle';
  let wanted = false;
  let attempts = 0;
  let reconnectTimer = null;
  let beatTimer = null;
  let watchTimer = null;
  let lastHeard = 0;
  let nextId = 1;
  let authRejected = false;
  let userId = null;

  function setState(next) {
    if (state === next) return;
    state = next;
    for (const listener of stateListeners) listener(state);
  }

  function write(command, headers, body) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(encodeFrame(command, headers, body));
  }

  function stopTimers() {
    clearInterval(beatTimer);
    clearInterval(watchTimer);
    beatTimer = watchTimer = null;
  }

  function failPendingReceipts(reason) {
    for (const [id, pending] of receipts) {
      clearTimeout(pending.timer);
      pending.reject(Object.assign(new Error(reason), { outcome: 'unknown' }));
      receipts.delete(id);
    }
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    const base = Math.min(15000, 500 * 2 ** attempts);
    attempts++;
    const delay = base * (0.75 + Math.random() * 0.5);
    reconnectTimer = setTimeout(open, delay);
  }

  async function open() {
    clearTimeout(reconnectTimer);
    if (!wanted) return;
    setState('connecting');
    let token;
    try {
      token = await options.getToken({ forceRefresh: authRejected });
    } catch {
      scheduleReconnect();
      return;
    }
    authRejected = false;
    if (!token) {
      wanted = false;
      setState('offline');
      return;
    }
    const ws = new WebSocket(`${url}?access_token=${encodeURIComponent(token)}`, ['v12.stomp', 'v11.stomp']);
    ws.binaryType = 'arraybuffer';
    socket = ws;
    const reader = new FrameReader();
    let connected = false;
    ws.onopen = () => {
      write('CONNECT', {
        'accept-version': '1.2,1.1',
        host: location.hostname,
        'heart-beat': `${heartbeatMs},${heartbeatMs}`,
        Authorization: `Bearer ${token}`,
      });
    };
    ws.onmessage = (event) => {
      lastHeard = Date.now();
      const bytes = typeof event.data === 'string' ? encoder.encode(event.data) : new Uint8Array(event.data);
      for (const frame of reader.push(bytes)) {
        if (frame.command === 'CONNECTED') connected = true;
        if (frame.command === 'ERROR' && !connected) authRejected = /auth|token|expired|sign in/i.test(frame.headers.message || '');
        handleFrame(frame);
      }
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      stopTimers();
      failPendingReceipts('connection closed before the server confirmed');
      if (wanted) {
        setState('connecting');
        scheduleReconnect();
      } else {
        setState('offline');
      }
    };
  }

  function startHeartbeats(serverHeader) {
    const [sx, sy] = (serverHeader || '0,0').split(',').map((n) => Number.parseInt(n, 10) || 0);
    stopTimers();
    if (heartbeatMs && sy) {
      const every = Math.max(heartbeatMs, sy);
      beatTimer = setInterval(() => {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send('\n');
      }, every);
    }
    if (heartbeatMs && sx) {
      const expect = Math.max(heartbeatMs, sx);
      watchTimer = setInterval(() => {
        // Silent for too long: the connection is dead even if the socket has not noticed.
        if (Date.now() - lastHeard > expect * 2.5 && socket) socket.close();
      }, expect);
    }
  }

  function handleFrame(frame) {
    switch (frame.command) {
      case 'CONNECTED': {
        attempts = 0;
        userId = frame.headers['user-name'] || null;
        startHeartbeats(frame.headers['heart-beat']);
        for (const [id, sub] of subscriptions) write('SUBSCRIBE', { id, destination: sub.destination, ack: 'auto' });
        setState('connected');
        // Anything published while we were away is fetched, not lost.
        for (const room of rooms.values()) room.catchUp();
        break;
      }
      case 'MESSAGE': {
        const sub = subscriptions.get(frame.headers.subscription);
        if (!sub) break;
        let payload = frame.body;
        try {
          payload = JSON.parse(frame.body);
        } catch {
          // not JSON: hand over the text
        }
        sub.handler(payload, frame);
        break;
      }
      case 'RECEIPT': {
        const pending = receipts.get(frame.headers['receipt-id']);
        if (pending) {
          clearTimeout(pending.timer);
          receipts.delete(frame.headers['receipt-id']);
          pending.resolve();
        }
        break;
      }
      case 'ERROR': {
        const message = frame.headers.message || 'the server reported an error';
        const pending = receipts.get(frame.headers['receipt-id']);
        if (pending) {
          clearTimeout(pending.timer);
          receipts.delete(frame.headers['receipt-id']);
          pending.reject(Object.assign(new Error(message), { outcome: 'rejected' }));
        }
        // The server closes the connection after an ERROR; onclose reconnects.
        break;
      }
      default:
        break;
    }
  }

  const client = {
    /** Opens the connection (and keeps it open until disconnect). */
    connect() {
      if (wanted) return;
      wanted = true;
      attempts = 0;
      open();
      addEventListener('online', () => {
        if (wanted && state !== 'connected') {
          attempts = 0;
          open();
        }
      });
    },

    disconnect() {
      wanted = false;
      clearTimeout(reconnectTimer);
      if (socket) {
        write('DISCONNECT', {});
        socket.close();
      }
    },

    isConnected: () => state === 'connected',
    get state() { return state; },
    /** The signed-in user's id, as the broker reported it in CONNECTED. */
    get userId() { return userId; },

    onStateChange(listener) {
      stateListeners.add(listener);
      listener(state);
      return () => stateListeners.delete(listener);
    },

    /** Subscribes (now, and again after every reconnect); returns the unsubscribe function. */
    subscribe(destination, handler) {
      const id = `sub-${nextId++}`;
      subscriptions.set(id, { destination, handler });
      if (state === 'connected') write('SUBSCRIBE', { id, destination, ack: 'auto' });
      return () => {
        if (subscriptions.delete(id) && state === 'connected') write('UNSUBSCRIBE', { id });
      };
    },

    /**
     * SENDs a JSON body. With `receipt` (the default) resolves once the server confirms —
     * for chat messages, once stored — and rejects with `outcome: 'rejected'` (ERROR: not
     * stored) or `'unknown'` (connection lost first).
     */
    send(destination, body, { receipt = true, timeoutMs = 10000 } = {}) {
      if (state !== 'connected') return Promise.reject(Object.assign(new Error('not connected'), { outcome: 'not-sent' }));
      const text = JSON.stringify(body);
      if (!receipt) {
        write('SEND', { destination, 'content-type': 'application/json' }, text);
        return Promise.resolve();
      }
      const id = `r-${nextId++}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          receipts.delete(id);
          reject(Object.assign(new Error('no confirmation from the server'), { outcome: 'unknown' }));
        }, timeoutMs);
        receipts.set(id, { resolve, reject, timer });
        write('SEND', { destination, receipt: id, 'content-type': 'application/json' }, text);
      });
    },

    /**
     * Joins a ticket's live room: messages (deduplicated, in seq order, with catch-up after
     * reconnects), typing and notifications. `lastSeq` is the highest seq already shown.
     */
    joinTicketRoom(ticketId, { lastSeq = 0, onMessage, onEvent, onTyping, onNotification } = {}) {
      client.leaveTicketRoom(ticketId);
      const room = new TicketRoom(ticketId, { onMessage, onEvent }, lastSeq, options.fetchAfter);
      rooms.set(ticketId, room);
      room.subscriptions.push(client.subscribe(`/topic/tickets/${ticketId}/messages`, (c) => room.deliver(c)));
      if (onTyping) room.subscriptions.push(client.subscribe(`/topic/tickets/${ticketId}/typing`, onTyping));
      if (onNotification) {
        room.subscriptions.push(client.subscribe(`/topic/tickets/${ticketId}/notifications`, onNotification));
      }
      if (state === 'connected') room.catchUp();
      return room;
    },

    leaveTicketRoom(ticketId) {
      const room = rooms.get(ticketId);
      if (!room) return;
      for (const unsubscribe of room.subscriptions) unsubscribe();
      rooms.delete(ticketId);
    },

    /** `sendMessage('chat_message', {ticketId, message, timestamp})`, confirmed by RECEIPT. */
    sendMessage(type, payload) {
      if (type !== 'chat_message') return Promise.reject(new Error(`unknown message type ${type}`));
      return client.send('/app/chat_message', {
        ticketId: payload.ticketId,
        message: payload.message,
        timestamp: payload.timestamp || new Date().toISOString(),
        ...(payload.type ? { type: payload.type } : {}),
      });
    },

    /** Tells the room that this user is (or stopped) typing. Fire and forget. */
    sendTyping(ticketId, typing = true) {
      if (state !== 'connected') return;
      client.send(`/app/tickets/${ticketId}/typing`, { typing }, { receipt: false });
    },
  };
  return client;
}
