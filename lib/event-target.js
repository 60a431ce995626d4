'use strict';

// The WHATWG-style half of the WebSocket API: addEventListener,
// removeEventListener and the event classes, layered on EventEmitter events.

const { kForOnEventAttribute, kListener } = require('./constants');

const kTarget = Symbol('kTarget');

class Event {
  constructor(type) {
    this[kTarget] = null;
    this._type = type;
  }
  get target() {
    return this[kTarget];
  }
  get type() {
    return this._type;
  }
}

class CloseEvent extends Event {
  constructor(type, options = {}) {
    super(type);
    this._code = options.code === undefined ? 0 : options.code;
    this._reason = options.reason === undefined ? '' : options.reason;
    this._wasClean = options.wasClean === undefined ? false : options.wasClean;
  }
  get code() {
    return this._code;
  }
  get reason() {
    return this._reason;
  }
  get wasClean() {
    return this._wasClean;
  }
}

class ErrorEvent extends Event {
  constructor(type, options = {}) {
    super(type);
    this._error = options.error === undefined ? null : options.error;
    this._message = options.message === undefined ? '' : options.message;
  }
  get error() {
    return this._error;
  }
  get message() {
    return this._message;
  }
}

class MessageEvent extends Event {
  constructor(type, options = {}) {
    super(type);
    this._data = options.data === undefined ? null : options.data;
  }
  get data() {
    return this._data;
  }
}

for (const [cls, props] of [
  [Event, ['target', 'type']],
  [CloseEvent, ['code', 'reason', 'wasClean']],
  [ErrorEvent, ['error', 'message']],
  [MessageEvent, ['data']]
]) {
  for (const p of props) Object.defineProperty(cls.prototype, p, { enumerable: true });
}

function callListener(listener, thisArg, event) {
  if (typeof listener === 'object' && listener.handleEvent) {
    listener.handleEvent.call(listener, event);
  } else {
    listener.call(thisArg, event);
  }
}

// How each EventEmitter event becomes a DOM-style event.
const makeEvent = {
  message(ws, data, isBinary) {
    return new MessageEvent('message', { data: isBinary ? data : data.toString() });
  },
  close(ws, code, message) {
    return new CloseEvent('close', {
      code,
      reason: message.toString(),
      wasClean: ws._closeFrameReceived && ws._closeFrameSent
    });
  },
  error(ws, error) {
    return new ErrorEvent('error', { error, message: error.message });
  },
  open() {
    return new Event('open');
  }
};

const EventTarget = {
  addEventListener(type, handler, options = {}) {
    for (const listener of this.listeners(type)) {
      if (!options[kForOnEventAttribute] && listener[kListener] === handler && !listener[kForOnEventAttribute]) {
        return;
      }
    }
    const make = makeEvent[type];
    if (!make || !Object.prototype.hasOwnProperty.call(makeEvent, type)) return;

    const wrapper = function (...args) {
      const event = make(this, ...args);
      event[kTarget] = this;
      callListener(handler, this, event);
    };
    wrapper[kForOnEventAttribute] = !!options[kForOnEventAttribute];
    wrapper[kListener] = handler;

    if (options.once) this.once(type, wrapper);
    else this.on(type, wrapper);
  },

  removeEventListener(type, handler) {
    for (const listener of this.listeners(type)) {
      if (listener[kListener] === handler && !listener[kForOnEventAttribute]) {
        this.removeListener(type, listener);
        break;
      }
    }
  }
};

module.exports = { CloseEvent, ErrorEvent, Event, EventTarget, MessageEvent };
