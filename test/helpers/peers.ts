/**
 * Real peers (openssl, swaks, postfix …) come from Debian packages that .ci/run installs. A test whose
 * peer is missing skips with the reason, except under POSTERN_REQUIRE_PEERS=1, where it fails.
 */
import { spawnSync } from 'node:child_process';

const REQUIRED = process.env.POSTERN_REQUIRE_PEERS === '1';

/** Returns `false` (run the test) when `command` is on PATH, or a skip reason; throws when peers are required. */
export function peer(command: string, debianPackage: string): false | string {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
  if (found) return false;
  const reason = `${command} not found: apt-get install ${debianPackage}`;
  if (REQUIRED) throw new Error(`POSTERN_REQUIRE_PEERS=1 and ${reason}`);
  console.log(`# skip: ${reason}`);
  return reason;
}
