// The live notification stream (Server-Sent Events), authenticated by the session cookie that
// EventSource sends like any same-origin request. EventSource reconnects by itself and
// sends Last-Event-ID, so the server resumes without gaps; when the server refuses or goes
// away for good, this reconnects after a pause from the last sequence it saw.

export function openLiveStream({ afterSequence, onEvent, onState }) {
  let lastSequence = afterSequence;
  let source = null;
  let retryTimer = null;
  let stopped = false;

  function connect() {
    const params = new URLSearchParams({ lastEventId: String(lastSequence) });
    source = new EventSource(`/v1/notifications/stream?${params}`);
    onState('connecting');
    source.addEventListener('open', () => onState('open'));
    const handle = (message) => {
      const sequence = Number(message.lastEventId);
      if (Number.isInteger(sequence) && sequence <= lastSequence) return;
      if (Number.isInteger(sequence)) lastSequence = sequence;
      onEvent(message.type, JSON.parse(message.data));
    };
    source.addEventListener('notification', handle);
    source.addEventListener('order', handle);
    source.addEventListener('error', () => {
      if (stopped) return;
      if (source.readyState === EventSource.CLOSED) {
        // Refused (401 once the session ended, 503 while the server restarts): try again later.
        onState('closed');
        source.close();
        retryTimer = setTimeout(connect, 5000);
      } else {
        onState('connecting');
      }
    });
  }

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      source?.close();
    },
  };
}
