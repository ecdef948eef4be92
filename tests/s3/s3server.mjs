// Starts s3rver (a real S3-compatible server, from npm, locked in package-lock.json) on
// 127.0.0.1 at a free port, with one bucket, and prints one line: {"port": N}. It stores
// objects under --dir as plain files. It runs until stdin closes or it gets SIGTERM.
//
// Note: s3rver checks the access key id and the form of the SigV4 Authorization header, not the
// signature itself; the signer is checked against AWS's published SigV4 examples in the unit
// test s3-sigv4.
//
//   node s3server.mjs --dir DIR --bucket NAME
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const S3rver = require('s3rver');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: opt('--dir', '/tmp/s3rver'),
  vhostBuckets: false,
  configureBuckets: [{ name: opt('--bucket', 'archive') }],
});
const addr = await server.run();
process.stdout.write(JSON.stringify({ port: addr.port }) + '\n');
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
