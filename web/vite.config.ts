// The browser apps: each built by `npm run build` (`vite build --mode <app>`) into dist/web/<app>/ and
// served by Postern's HTTPS listener at /<app>/. Nothing is loaded from elsewhere at run time; no
// inline script (the pages' CSP forbids it).
import path from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = path.dirname(new URL(import.meta.url).pathname);
const APPS = ['admin', 'account', 'mail'];

export default defineConfig(({ mode }) => {
  if (!APPS.includes(mode)) throw new Error(`vite build --mode must name an app: ${APPS.join(', ')}`);
  return {
    root: path.join(root, mode),
    base: `/${mode}/`,
    plugins: [preact()],
    build: {
      outDir: path.join(root, '..', 'dist', 'web', mode),
      emptyOutDir: true,
      // No modulepreload polyfill: it would be an inline script, and every browser supported has modulepreload.
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
    },
  };
});
