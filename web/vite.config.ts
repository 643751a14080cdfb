// The browser apps: built by `npm run build` into dist/web/<app>/, served by Postern's HTTPS listener.
// Nothing is loaded from elsewhere at run time; no inline script (the pages' CSP forbids it).
import path from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = path.dirname(new URL(import.meta.url).pathname);

export default defineConfig({
  root: path.join(root, 'admin'),
  base: '/admin/',
  plugins: [preact()],
  build: {
    outDir: path.join(root, '..', 'dist', 'web', 'admin'),
    emptyOutDir: true,
    // No modulepreload polyfill: it would be an inline script, and every browser the UI supports has modulepreload.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
