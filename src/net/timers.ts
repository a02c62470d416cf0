// Timers as an injected port, shared by the SMTP, IMAP and POP3 sessions: their idle and
// per-command deadlines are set through it, so session tests run deadlines without waiting.

export interface TimerHandle {
  cancel(): void;
}

export interface Timers {
  set(ms: number, onExpire: () => void): TimerHandle;
}

/** Real timers; unref'd so a forgotten session never keeps the process alive. */
export const systemTimers: Timers = {
  set(ms, onExpire) {
    const timer = setTimeout(onExpire, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
