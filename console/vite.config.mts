import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The console is served by the app at /console under a strict CSP: nothing may be inlined
 * (no inline scripts, styles or data-URL assets), so every asset is a file of its own.
 */
export default defineConfig({
  root,
  base: '/console/',
  publicDir: 'public',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  test: {
    root,
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
