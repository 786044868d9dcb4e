'use strict';
// Log lines for stderr, one JSON object each, shaped like the native engine's RUST_LOG_FORMAT=json
// output. Callers pass messages that never contain the database URL or its password.

const LEVELS = { ERROR: 1, WARN: 2, INFO: 3 };
let threshold = LEVELS.INFO;

function write(level, message, fields) {
  if (LEVELS[level] > threshold) return;
  const line = {
    timestamp: new Date().toISOString(),
    level,
    target: 'prisma_bridge',
    fields: { message, ...(fields || {}) },
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

/** Follow RUST_LOG's level (error, warn, info…), as the native engine does. */
function setLevel(rustLog) {
  const name = String(rustLog || 'info').toUpperCase();
  threshold = LEVELS[name] || (name === 'OFF' ? 0 : LEVELS.INFO);
}

module.exports = {
  setLevel,
  error: (message, fields) => write('ERROR', message, fields),
  warn: (message, fields) => write('WARN', message, fields),
  info: (message, fields) => write('INFO', message, fields),
};
