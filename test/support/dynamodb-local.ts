// Amazon's DynamoDB Local (a Java server, the one AWS ships) on a free loopback port, for the
// store's tests of what dynalite lacks: transactions (issue 15). AWS ships the jar from its own
// download site, which is not reachable here; the npm package amplify-dynamodb-simulator carries
// the same jar. Only that tarball is fetched (`npm pack`, checked against the registry's integrity
// by npm), not the package's dependencies, into node_modules/.cache once.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { freePort } from '../../scripts/cluster/free-port.js';
import { createDynamoClient, LOCAL_CREDENTIALS } from '../../server/store/dynamodb/client.js';

/** DynamoDB Local 1.25.1 inside. */
const PACKAGE = 'amplify-dynamodb-simulator@2.9.30';
const CACHE = path.resolve('node_modules/.cache/dynamodb-local', PACKAGE.replace('@', '-'));

export function javaPath(): string {
  const found = spawnSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).stdout.trim();
  if (!found) {
    throw new Error(
      "java not found (DynamoDB Local runs on it): run 'sudo apt-get install -y openjdk-17-jre-headless' (npm test installs it as root)",
    );
  }
  return found;
}

/** The directory holding DynamoDBLocal.jar, fetched once. */
function emulatorDir(): string {
  const emulator = path.join(CACHE, 'package', 'emulator');
  if (existsSync(path.join(emulator, 'DynamoDBLocal.jar'))) return emulator;
  // Per process: two test files fetching at once each unpack their own, and the first rename wins.
  const partial = `${CACHE}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const packed = spawnSync('npm', ['pack', PACKAGE, '--silent', '--pack-destination', partial], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  const tarball = packed.stdout.trim().split('\n').pop() ?? '';
  if (packed.status !== 0 || !tarball) {
    throw new Error(`could not fetch DynamoDB Local (npm pack ${PACKAGE}): ${packed.stderr.trim()}`);
  }
  const untar = spawnSync('tar', ['xzf', tarball, '-C', partial, 'package/emulator'], {
    cwd: partial,
    encoding: 'utf8',
  });
  if (untar.status !== 0) throw new Error(`could not unpack ${tarball}: ${untar.stderr.trim()}`);
  rmSync(path.join(partial, tarball));
  try {
    renameSync(partial, CACHE);
  } catch (error) {
    // Another process put it there first: use theirs.
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(path.join(emulator, 'DynamoDBLocal.jar'))) throw error;
  }
  return emulator;
}

export class DynamoDbLocal {
  readonly #child: ChildProcess;

  private constructor(
    child: ChildProcess,
    readonly port: number,
  ) {
    this.#child = child;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Started in memory; resolves once it answers a request. */
  static async start(): Promise<DynamoDbLocal> {
    const java = javaPath();
    const dir = emulatorDir();
    const port = await freePort();
    // Its own clock, not one a test shifted with faketime (the JVM under libfaketime can hang).
    const env = { ...process.env };
    delete env.LD_PRELOAD;
    delete env.FAKETIME;
    // Java runs under a shell that kills it once its stdin closes: when close() ends it, and when
    // the test process dies in any way (a SIGKILL included), since the pipe then closes too.
    const child = spawn(
      'sh',
      [
        '-c',
        '"$@" & java=$!; read -r _; kill -9 "$java" 2>/dev/null; wait "$java"; exit 0',
        'dynamodb-local',
        java,
        `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
        '-Xmx512m',
        '-jar',
        path.join(dir, 'DynamoDBLocal.jar'),
        '-inMemory',
        '-port',
        String(port),
      ],
      { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    for (const stream of [child.stdout!, child.stderr!])
      stream.on('data', (chunk: Buffer) => (output += chunk));
    const server = new DynamoDbLocal(child, port);
    const client = createDynamoClient({
      endpoint: server.endpoint,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`DynamoDB Local exited ${child.exitCode}: ${output}`);
        try {
          await client.send(new ListTablesCommand({}));
          return server;
        } catch {
          if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer within 30 s: ${output}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } catch (error) {
      await server.close();
      throw error;
    } finally {
      client.destroy();
    }
  }

  async close(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.stdin!.end();
    await exited;
  }
}
