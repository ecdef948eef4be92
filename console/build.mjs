// Builds the operator console into a folder iptvd serves at "/" (docs/console.md). No bundler
// and no framework: the page's own files are copied as they are, beside hls.js's minified build
// from node_modules, installed exactly as package-lock.json says (`npm ci`, offline once npm's
// cache has it). Run by meson (console/meson.build):
//   node build.mjs --out <build>/console --modules <build>/console-npm
// --modules is where package.json, the lockfile and node_modules go (the build tree, never the
// source tree); without it the source folder's node_modules is used (`npm ci` here first).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const out = opt('--out') ?? join(here, 'dist');
const modules = opt('--modules') ?? here;

function ensureModules() {
  const lock = readFileSync(join(here, 'package-lock.json'), 'utf8');
  const installed = join(modules, 'node_modules', '.package-lock.json');
  const stamp = join(modules, 'installed-lock.json');
  if (existsSync(installed) && existsSync(stamp) && readFileSync(stamp, 'utf8') === lock) return;
  mkdirSync(modules, { recursive: true });
  if (modules !== here) {
    copyFileSync(join(here, 'package.json'), join(modules, 'package.json'));
    copyFileSync(join(here, 'package-lock.json'), join(modules, 'package-lock.json'));
  }
  execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
               { cwd: modules, stdio: 'inherit' });
  writeFileSync(stamp, lock);
}

ensureModules();
mkdirSync(out, { recursive: true });
for (const f of ['index.html', 'console.js', 'console.css', 'favicon.svg'])
  copyFileSync(join(here, 'src', f), join(out, f));
// Not "hls.min.js": every path starting with /hls belongs to the origin.
copyFileSync(join(modules, 'node_modules', 'hls.js', 'dist', 'hls.min.js'), join(out, 'player-hlsjs.min.js'));
