/**
 * Builds the console page into dist/console-page (shipped in the package; dist/console holds
 * the compiled server of src/console), run as
 * `vite build console` (this folder is the root): relative asset paths (base './') so the
 * page works under whatever base path the server is mounted at, hashed file names, and
 * everything bundled: the page fetches nothing from a CDN.
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: '../dist/console-page',
    emptyOutDir: true,
    // No data: URLs: the server's Content-Security-Policy allows only 'self'.
    assetsInlineLimit: 0,
    target: 'es2022',
  },
});
