#!/usr/bin/env node
// The `postern` command: runs the compiled CLI (npm run build writes dist/).
// File writes and fsyncs run in libuv's thread pool; deliveries need more than its default 4 threads.
process.env.UV_THREADPOOL_SIZE ??= '16';
await import('../dist/cli/main.js');
