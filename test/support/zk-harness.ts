// Starts real ZooKeeper servers (standalone or ensembles) from the installed distribution, on free
// loopback ports, and runs ZooKeeper's own tools (ZooKeeperMain, SnapshotFormatter, TxnLogToolkit).
// Every JVM started here is killed when the test process ends, whatever way it ends.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { keepTmp, makeTempDir, makeTempDirSync, onProcessExit, removeTempDir, waitForProcessGoneSync } from './tmp.js';

export interface ZkServerOptions {
  /** `zookeeper.snapCount`: roughly how many transactions go into a log before a new snapshot. */
  snapCount?: number;
  /** `zookeeper.extendedTypesEnabled`, which TTL nodes need (containers work either way). Default true. */
  extendedTypes?: boolean;
  /** `zookeeper.preAllocSize` in KiB: how far each new transaction log is padded ahead. */
  preAllocSizeKb?: number;
  /** JVM heap (`-Xmx`), default 256. */
  heapMb?: number;
  /** Use this dataDir (kept on cleanup) instead of a fresh temp dir. */
  dataDir?: string;
  /** Transaction log dir; default = dataDir. */
  dataLogDir?: string;
  /** Appended after the harness's JVM flags, so they win. */
  extraJvmArgs?: string[];
  /** zoo.cfg lines; they override the harness's own (e.g. `{ tickTime: '500' }`). */
  extraConfig?: Record<string, string>;
  /**
   * Serve only TLS: the client port becomes `secureClientPort` (no plain port), with these zoo.cfg
   * lines (stores, clientAuth; see test/support/tls-certs.ts). `probe` is the client certificate the
   * harness uses to ask the server `srvr` while it waits for it to serve.
   */
  tls?: { config: Record<string, string>; probe: { ca: Buffer; cert: Buffer; key: Buffer } };
}

export interface ZkServer {
  /** Server id (`myid`); 1 for a standalone server. */
  id: number;
  clientPort: number;
  /** `127.0.0.1:<clientPort>` */
  connectString: string;
  dataDir: string;
  dataLogDir: string;
  /** The JVM's stdout and stderr (ZooKeeper's log), appended to across restarts. */
  logFile: string;
  /** The zoo.cfg this server runs with. */
  configFile: string;
  /** The running JVM's pid; undefined while stopped. */
  readonly pid: number | undefined;
  /** SIGTERM, wait, then SIGKILL. Keeps dataDir/dataLogDir so start() can bring the server back. */
  stop(): Promise<void>;
  /** (Re)starts with the same dirs and ports and waits until it serves (no-op when running). */
  start(): Promise<void>;
  /** stop(), then removes the directories the harness created (not the ones the caller passed). */
  destroy(): Promise<void>;
}

export interface ZkEnsemble {
  servers: ZkServer[];
  /** Every member's `127.0.0.1:<port>`, comma-joined. */
  connectString: string;
  /** Stops every member (dirs kept until destroy()/stopAll()/process exit). */
  stop(): Promise<void>;
  /** Stops every member and removes the directories the harness created. */
  destroy(): Promise<void>;
}

export type ZkMode = 'standalone' | 'leader' | 'follower' | 'observer';

// ---------------------------------------------------------------------------------------------
// Locating Java and ZooKeeper

const JAVA_LIB = '/usr/share/java';
const ZOOKEEPER_JAR = path.join(JAVA_LIB, 'zookeeper.jar');
const INSTALL_HINT =
  'install them with `apt-get update && apt-get install -y zookeeper` (add default-jre-headless if `java` is missing), ' +
  'or run `bash scripts/install-deps.sh`';

/**
 * zookeeper.jar's manifest Class-Path already names most of these; listing them keeps the
 * classpath readable and independent of the manifest. It names slf4j-api but no binding, so the
 * log4j 1.2 binding is added here, or the server would log nothing at all.
 */
const CLASSPATH_JARS = [
  'zookeeper.jar',
  'zookeeper-jute.jar',
  'slf4j-api.jar',
  'slf4j-log4j12.jar',
  'log4j-1.2.jar',
  'commons-cli.jar',
  'commons-io.jar',
  'metrics-core.jar',
  'snappy-java.jar',
  'netty-buffer.jar',
  'netty-codec.jar',
  'netty-common.jar',
  'netty-handler.jar',
  'netty-resolver.jar',
  'netty-transport.jar',
  'netty-transport-native-epoll.jar',
  'netty-transport-native-unix-common.jar',
  'jackson-annotations.jar',
  'jackson-core.jar',
  'jackson-databind.jar',
];

let javaCache: string | null | undefined;

function findJava(): string | null {
  if (javaCache !== undefined) return javaCache;
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(path.join(process.env.JAVA_HOME, 'bin', 'java'));
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'java'));
  candidates.push('/usr/bin/java');
  javaCache = null;
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
    } catch {
      continue;
    }
    // A `java` that cannot even print its version (broken alternatives link) counts as missing.
    const probe = spawnSync(candidate, ['-version'], { stdio: 'ignore' });
    if (probe.status === 0) {
      javaCache = candidate;
      break;
    }
  }
  return javaCache;
}

/** Whether this machine can run ZooKeeper: a working `java` and Debian's zookeeper jars. */
export function zookeeperAvailable(): { ok: true; jar: string; java: string } | { ok: false; reason: string } {
  const java = findJava();
  const missing: string[] = [];
  if (!java) missing.push('a Java runtime (`java` on PATH, JAVA_HOME or /usr/bin/java)');
  if (!existsSync(ZOOKEEPER_JAR)) missing.push(`ZooKeeper's jars (${ZOOKEEPER_JAR})`);
  if (missing.length > 0 || !java) return { ok: false, reason: `missing ${missing.join(' and ')}` };
  return { ok: true, jar: ZOOKEEPER_JAR, java };
}

/** Throws when ZooKeeper cannot run here, naming what is missing and how to install it: tests fail, never skip. */
export function requireZooKeeper(): void {
  const avail = zookeeperAvailable();
  if (!avail.ok) {
    throw new Error(`This test needs a real ZooKeeper server, but this machine is ${avail.reason}; ${INSTALL_HINT}.`);
  }
}

function java(): string {
  requireZooKeeper();
  return findJava() as string;
}

/** The classpath that runs ZooKeeper's server and tools (QuorumPeerMain, ZooKeeperMain, SnapshotFormatter, TxnLogToolkit). */
export function javaClasspath(): string {
  return CLASSPATH_JARS.map((jar) => path.join(JAVA_LIB, jar))
    .filter((jar) => existsSync(jar))
    .join(path.delimiter);
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: every JVM is tracked until it exits, and killed if the test process ends.

const liveJvms = new Set<ChildProcess>();
const servers = new Set<LocalZkServer>();
let exitHookInstalled = false;
/** Marks our JVMs in `ps`, and lets a later run find the JVMs of a test process that was SIGKILLed. */
const OWNER_FLAG = '-Dzkvault.harness.owner=';

function trackJvm(child: ChildProcess): void {
  installExitHook();
  liveJvms.add(child);
  child.once('exit', () => liveJvms.delete(child));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  reapOrphans();
  onProcessExit(() => {
    const pids: number[] = [];
    for (const child of liveJvms) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
      try {
        process.kill(child.pid, 'SIGKILL');
        pids.push(child.pid);
      } catch {
        // already gone
      }
    }
    for (const pid of pids) waitForProcessGoneSync(pid, 5000);
  });
}

/**
 * Kills harness JVMs whose owning test process no longer exists (it was SIGKILLed, so its exit hook
 * never ran), and removes the temp dirs they ran in. Runs on the harness's first use in a process;
 * scripts/test.sh also runs it after the tests. Returns the pids it killed.
 */
export function reapOrphans(): number[] {
  const killed: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return killed; // not Linux: nothing to scan
  }
  for (const entry of entries) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const arg = cmdline.split('\0').find((a) => a.startsWith(OWNER_FLAG));
    if (!arg) continue;
    const owner = Number(arg.slice(OWNER_FLAG.length));
    if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid || pidAlive(owner)) continue;
    const pid = Number(entry);
    // Its server root is its cwd; its log4j config sits in the dead process's harness dir.
    const dirs: string[] = [];
    try {
      dirs.push(readlinkSync(`/proc/${pid}/cwd`));
    } catch {
      // gone already
    }
    const log4j = cmdline.split('\0').find((a) => a.startsWith('-Dlog4j.configuration=file:'));
    if (log4j) dirs.push(path.dirname(log4j.slice('-Dlog4j.configuration=file:'.length)));
    try {
      process.kill(pid, 'SIGKILL');
      process.stderr.write(`zk-harness: killed JVM ${pid} left behind by test process ${owner}\n`);
    } catch {
      continue; // raced with its own exit
    }
    killed.push(pid);
    waitForProcessGoneSync(pid, 5000);
    if (keepTmp()) continue;
    for (const dir of dirs) {
      if (path.dirname(dir) === os.tmpdir() && /^zkvault-(zk\d+|harness)-/.test(path.basename(dir))) {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      }
    }
  }
  return killed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function waitForExit(child: ChildProcess, maxMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = maxMs === Infinity ? undefined : setTimeout(() => resolve(false), maxMs);
    child.once('exit', () => {
      if (timer) clearTimeout(timer);
      resolve(true);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Logging and JVM flags

let log4jConfigPath: string | undefined;

/** A log4j 1.2 config whose level comes from `-Dzkvault.log.level`, writing to stderr. */
function log4jConfig(): string {
  if (log4jConfigPath && existsSync(log4jConfigPath)) return log4jConfigPath;
  const dir = makeTempDirSync('zkvault-harness-');
  log4jConfigPath = path.join(dir, 'log4j.properties');
  writeFileSync(
    log4jConfigPath,
    [
      'log4j.rootLogger=${zkvault.log.level}, STDERR',
      'log4j.appender.STDERR=org.apache.log4j.ConsoleAppender',
      'log4j.appender.STDERR.Target=System.err',
      'log4j.appender.STDERR.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.STDERR.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n',
      '',
    ].join('\n'),
  );
  return log4jConfigPath;
}

function commonJvmArgs(level: string): string[] {
  return [
    // Two cores shared by several JVMs and the tests: one GC thread each.
    '-XX:+UseSerialGC',
    `-Dlog4j.configuration=file:${log4jConfig()}`,
    `-Dzkvault.log.level=${level}`,
    '-Dzookeeper.jmx.log4j.disable=true',
    `${OWNER_FLAG}${process.pid}`,
    // scripts/test.sh tags its run, so it can tell afterwards whether any of this run's JVMs survived.
    ...(process.env.ZKVAULT_TEST_RUN ? [`-Dzkvault.harness.run=${process.env.ZKVAULT_TEST_RUN}`] : []),
  ];
}

/** Short-lived tools: compile less, start faster. */
const TOOL_JVM_ARGS = ['-XX:TieredStopAtLevel=1', '-Xmx256m'];

// ---------------------------------------------------------------------------------------------
// Ports and four-letter words

/** Ports handed out by this process, never reused: a stopped server keeps its ports for start(). */
const handedOutPorts = new Set<number>();

/** Finds `count` distinct free ports on 127.0.0.1 (the kernel picks them; all are held until all are found). */
export async function freePorts(count: number): Promise<number[]> {
  const held: net.Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve());
      });
      held.push(server);
      const port = (server.address() as net.AddressInfo).port;
      if (handedOutPorts.has(port)) continue;
      handedOutPorts.add(port);
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  return ports;
}

/** Sends a four-letter word (`srvr`, `ruok`, `mntr`, …) and returns the whole answer (over TLS with `tlsProbe`). */
export function fourLetterWord(
  port: number,
  word: string,
  host = '127.0.0.1',
  tlsProbe?: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsProbe ? tls.connect({ host, port, ...tlsProbe }) : net.connect({ host, port });
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error(`${word} to ${host}:${port}: no answer`)));
    socket.on(tlsProbe ? 'secureConnect' : 'connect', () => socket.write(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** The server's `Mode:` from `srvr`, or undefined while it does not serve (starting, electing, down). */
export async function serverMode(port: number, tlsProbe?: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<ZkMode | undefined> {
  try {
    const answer = await fourLetterWord(port, 'srvr', '127.0.0.1', tlsProbe);
    const match = /^Mode: (\w+)/m.exec(answer);
    return match ? (match[1] as ZkMode) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

/** How long a server or ensemble may take to start serving: generous, for a loaded 2-core machine. */
function startDeadlineMs(): number {
  const fromEnv = Number(process.env.ZKVAULT_ZK_START_TIMEOUT_MS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 240_000;
}
const STOP_GRACE_MS = 30_000;
const POLL_MS = 200;
const BIND_RETRIES = 3;

interface Peer {
  id: number;
  quorumPort: number;
  electionPort: number;
}

interface ServerSetup {
  id: number;
  root: string;
  dataDir: string;
  dataLogDir: string;
  ownedDirs: string[];
  options: ZkServerOptions;
}

class StartError extends Error {
  constructor(
    message: string,
    readonly bindFailure: boolean,
  ) {
    super(message);
  }
}

class LocalZkServer implements ZkServer {
  readonly id: number;
  clientPort = 0;
  connectString = '';
  readonly dataDir: string;
  readonly dataLogDir: string;
  readonly logFile: string;
  readonly configFile: string;
  /** Every member of its ensemble (itself included); empty for a standalone server. */
  peers: Peer[] = [];
  private child: ChildProcess | undefined;
  private destroyed = false;

  constructor(
    private readonly setup: ServerSetup,
    private readonly ensembleSize: number,
  ) {
    this.id = setup.id;
    this.dataDir = setup.dataDir;
    this.dataLogDir = setup.dataLogDir;
    this.logFile = path.join(setup.root, 'zookeeper.log');
    this.configFile = path.join(setup.root, 'zoo.cfg');
    servers.add(this);
  }

  /** For a TLS-only server: the client certificate its readiness probe uses. */
  get tlsProbe(): { ca: Buffer; cert: Buffer; key: Buffer } | undefined {
    return this.setup.options.tls?.probe;
  }

  get pid(): number | undefined {
    const child = this.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** Writes zoo.cfg (and myid for an ensemble member) for the given ports. */
  async configure(clientPort: number, peers: Peer[]): Promise<void> {
    this.clientPort = clientPort;
    this.connectString = `127.0.0.1:${clientPort}`;
    this.peers = peers;
    const { options } = this.setup;
    const config: Record<string, string> = {
      tickTime: '2000',
      initLimit: '15',
      syncLimit: '10',
      dataDir: this.dataDir,
      ...(options.tls
        ? { secureClientPort: String(clientPort), secureClientPortAddress: '127.0.0.1', ...options.tls.config }
        : { clientPort: String(clientPort), clientPortAddress: '127.0.0.1' }),
      maxClientCnxns: '0',
      'admin.enableServer': 'false',
      '4lw.commands.whitelist': '*',
    };
    // Unset, ZooKeeper logs into dataDir itself: the exact layout of a default install.
    if (this.dataLogDir !== this.dataDir) config.dataLogDir = this.dataLogDir;
    for (const peer of peers) config[`server.${peer.id}`] = `127.0.0.1:${peer.quorumPort}:${peer.electionPort}`;
    for (const [key, value] of Object.entries(options.extraConfig ?? {})) config[key] = value;
    for (const [key, value] of Object.entries(config)) {
      if (/[\r\n]/.test(key) || /[\r\n]/.test(value)) throw new Error(`zoo.cfg entry ${key} must be a single line`);
    }
    await mkdir(this.dataDir, { recursive: true });
    await mkdir(this.dataLogDir, { recursive: true });
    await writeFile(
      this.configFile,
      Object.entries(config)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
    if (this.ensembleSize > 1) await ensureMyid(this.dataDir, this.id);
  }

  /** Starts the JVM without waiting for it to serve. */
  spawnJvm(): void {
    if (this.destroyed) throw new Error(`ZooKeeper server ${this.id} was destroyed; start a new one`);
    if (this.pid !== undefined) return;
    const { options } = this.setup;
    const args = [
      `-Xmx${options.heapMb ?? 256}m`,
      ...commonJvmArgs('INFO'),
      ...(options.extendedTypes === false ? [] : ['-Dzookeeper.extendedTypesEnabled=true']),
      ...(options.snapCount !== undefined ? [`-Dzookeeper.snapCount=${options.snapCount}`] : []),
      ...(options.preAllocSizeKb !== undefined ? [`-Dzookeeper.preAllocSize=${options.preAllocSizeKb}`] : []),
      ...(options.extraJvmArgs ?? []),
      '-cp',
      javaClasspath(),
      'org.apache.zookeeper.server.quorum.QuorumPeerMain',
      this.configFile,
    ];
    const fd = openSync(this.logFile, 'a');
    try {
      writeFileSync(fd, `\n===== zk-harness: starting server ${this.id} at ${new Date().toISOString()}\n${java()} ${args.join(' ')}\n`);
      const child = spawn(java(), args, { cwd: this.setup.root, stdio: ['ignore', fd, fd], detached: false });
      trackJvm(child);
      // A test that forgets stop() must not hang its process: the exit hook kills the JVM instead.
      child.unref();
      child.on('error', (err) => {
        try {
          writeFileSync(this.logFile, `zk-harness: could not start java: ${String(err)}\n`, { flag: 'a' });
        } catch {
          // the log dir is gone; the start wait reports the exit
        }
      });
      this.child = child;
    } finally {
      closeSync(fd);
    }
  }

  /** Fails fast (with the log's tail) if the JVM has exited. */
  checkAlive(): void {
    const child = this.child;
    if (!child) throw new StartError(`ZooKeeper server ${this.id} is not running`, false);
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      const tail = logTail(this.logFile, 40);
      const bindFailure = /Address already in use|BindException/.test(tail);
      throw new StartError(
        `ZooKeeper server ${this.id} (port ${this.clientPort}) exited during startup ` +
          `(${child.signalCode ?? `code ${child.exitCode}`}); last lines of ${this.logFile}:\n${tail}`,
        bindFailure,
      );
    }
  }

  async start(): Promise<void> {
    if (this.pid !== undefined) return;
    this.spawnJvm();
    try {
      const accept = this.ensembleSize > 1 ? ['leader', 'follower', 'observer'] : ['standalone'];
      await waitUntilServing([this], (modes) => modes.every((m) => m !== undefined && accept.includes(m)));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    // Hold the event loop open while waiting: the child itself is unref'd.
    child.ref();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, STOP_GRACE_MS))) {
        child.kill('SIGKILL');
        await waitForExit(child, Infinity);
      }
    }
    liveJvms.delete(child);
    this.child = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    this.destroyed = true;
    servers.delete(this);
    for (const dir of this.setup.ownedDirs) await removeTempDir(dir);
  }
}

async function ensureMyid(dataDir: string, id: number): Promise<void> {
  const file = path.join(dataDir, 'myid');
  let existing: string | undefined;
  try {
    existing = (await readFile(file, 'utf8')).trim();
  } catch {
    existing = undefined;
  }
  if (existing === undefined) {
    await writeFile(file, `${id}\n`);
  } else if (existing !== String(id)) {
    throw new Error(`${file} says server ${existing}, but this dataDir was given to ensemble member ${id}`);
  }
}

function logTail(file: string, lines: number): string {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    while (all.length > 0 && all[all.length - 1] === '') all.pop();
    return all.slice(-lines).join('\n');
  } catch (err) {
    return `(no log: ${String(err)})`;
  }
}

/** Polls `srvr` on every server until `accept` says yes; fails as soon as a JVM exits, or at the deadline. */
async function waitUntilServing(group: LocalZkServer[], accept: (modes: Array<ZkMode | undefined>) => boolean): Promise<void> {
  const deadline = Date.now() + startDeadlineMs();
  let modes: Array<ZkMode | undefined> = [];
  for (;;) {
    for (const server of group) server.checkAlive();
    modes = await Promise.all(group.map((s) => serverMode(s.clientPort, s.tlsProbe)));
    if (accept(modes)) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const report = group
    .map(
      (s, i) =>
        `--- server ${s.id} (port ${s.clientPort}, mode ${modes[i] ?? 'not serving'}), last lines of ${s.logFile}:\n${logTail(s.logFile, 40)}`,
    )
    .join('\n');
  throw new StartError(
    `ZooKeeper did not start serving within ${startDeadlineMs() / 1000}s ` +
      `(raise ZKVAULT_ZK_START_TIMEOUT_MS on a slow machine)\n${report}`,
    false,
  );
}

async function prepareServer(
  id: number,
  ensembleSize: number,
  options: ZkServerOptions,
  dataDir?: string,
  dataLogDir?: string,
): Promise<LocalZkServer> {
  const root = await makeTempDir(`zkvault-zk${id}-`);
  const ownedDirs = [root];
  const resolvedDataDir = dataDir ? path.resolve(dataDir) : path.join(root, 'data');
  const resolvedLogDir = dataLogDir ? path.resolve(dataLogDir) : resolvedDataDir;
  return new LocalZkServer({ id, root, dataDir: resolvedDataDir, dataLogDir: resolvedLogDir, ownedDirs, options }, ensembleSize);
}

/** Starts one standalone ZooKeeper on a free loopback port and waits until it serves. */
export async function startStandalone(opts: ZkServerOptions = {}): Promise<ZkServer> {
  requireZooKeeper();
  const server = await prepareServer(1, 1, opts, opts.dataDir, opts.dataLogDir);
  for (let attempt = 1; ; attempt++) {
    const [clientPort] = await freePorts(1);
    await server.configure(clientPort, []);
    try {
      await server.start();
      return server;
    } catch (err) {
      if (!(err instanceof StartError && err.bindFailure) || attempt >= BIND_RETRIES) {
        await server.destroy();
        throw err;
      }
      // Another process took the port between our probe and the JVM's bind: new ports, again.
    }
  }
}

/**
 * Starts an ensemble of `size` members (client, quorum and election port each, all on 127.0.0.1)
 * and waits until every member serves and exactly one is leader.
 */
export async function startEnsemble(
  size = 3,
  opts: ZkServerOptions & { dataDirs?: string[]; dataLogDirs?: string[] } = {},
): Promise<ZkEnsemble> {
  requireZooKeeper();
  if (!Number.isInteger(size) || size < 1) throw new Error(`ensemble size must be a positive integer, got ${size}`);
  if (opts.dataDir || opts.dataLogDir) throw new Error('startEnsemble takes dataDirs/dataLogDirs (one per member), not dataDir/dataLogDir');
  for (const [name, dirs] of [
    ['dataDirs', opts.dataDirs],
    ['dataLogDirs', opts.dataLogDirs],
  ] as const) {
    if (dirs && dirs.length !== size) throw new Error(`${name} has ${dirs.length} entries for ${size} members`);
  }
  const members: LocalZkServer[] = [];
  for (let i = 0; i < size; i++) members.push(await prepareServer(i + 1, size, opts, opts.dataDirs?.[i], opts.dataLogDirs?.[i]));
  const ensemble: ZkEnsemble = {
    servers: members,
    connectString: '',
    stop: async () => {
      await Promise.all(members.map((m) => m.stop()));
    },
    destroy: async () => {
      await Promise.all(members.map((m) => m.destroy()));
    },
  };
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(3 * size);
    const peers: Peer[] = members.map((m, i) => ({
      id: m.id,
      quorumPort: ports[3 * i + 1],
      electionPort: ports[3 * i + 2],
    }));
    await Promise.all(members.map((m, i) => m.configure(ports[3 * i], peers)));
    ensemble.connectString = members.map((m) => m.connectString).join(',');
    try {
      for (const m of members) m.spawnJvm();
      await waitUntilServing(members, (modes) => modes.every((m) => m !== undefined) && modes.filter((m) => m === 'leader').length === 1);
      return ensemble;
    } catch (err) {
      await ensemble.stop();
      if (!(err instanceof StartError && err.bindFailure) || attempt >= BIND_RETRIES) {
        await ensemble.destroy();
        throw err;
      }
    }
  }
}

/** Stops every server this process started and removes the harness's temp dirs (also runs on exit/SIGINT/SIGTERM, synchronously). */
export async function stopAll(): Promise<void> {
  await Promise.all([...servers].map((s) => s.destroy()));
  await Promise.all(
    [...liveJvms].map(async (child) => {
      child.kill('SIGKILL');
      await waitForExit(child, Infinity);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// ZooKeeper's own tools

export interface RunJavaResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a ZooKeeper class's main() (e.g. `org.apache.zookeeper.server.SnapshotFormatter`) with the
 * ZooKeeper classpath. Logging is at WARN on stderr; pass `-Dzkvault.log.level=INFO` in jvmArgs for more.
 * Without `timeoutMs` it waits as long as the tool runs.
 */
export function runJava(
  mainClass: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; jvmArgs?: string[] } = {},
): Promise<RunJavaResult> {
  const javaPath = java();
  const jvmArgs = [...TOOL_JVM_ARGS, ...commonJvmArgs('WARN'), ...(opts.jvmArgs ?? []), '-cp', javaClasspath(), mainClass, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(javaPath, jvmArgs, { stdio: ['pipe', 'pipe', 'pipe'], detached: false });
    trackJvm(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    // The tool may exit without reading its input; that is its business, not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result = {
        code: code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (timedOut) {
        reject(
          new Error(
            `${mainClass} ${args.join(' ')} ran longer than ${opts.timeoutMs}ms and was killed\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
          ),
        );
      } else {
        resolve(result);
      }
    });
  });
}

/** JVM chatter that can appear on any java process's stderr and says nothing about the commands. */
const JVM_NOISE = /^(OpenJDK .*warning|Picked up (JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS)|SLF4J:|log4j:)/;
/** ZooKeeperMain's own connection chatter on stdout. */
const SHELL_NOISE =
  /^(Connecting to \S+|Welcome to ZooKeeper!|JLine support is (enabled|disabled)|WATCHER::|WatchedEvent state:\w+ type:None path:null)$/;

/**
 * Runs ZooKeeper's shell (`org.apache.zookeeper.ZooKeeperMain`, what zkCli.sh runs) against
 * `connectString`, all commands in one JVM and one session: without jline on the classpath the
 * shell reads commands line by line from stdin, so they are piped in, followed by `quit`.
 * Used as a referee, and to make nodes the way operators do, e.g. `create -c /cont`, `create -t 60000 /ttl data`.
 *
 * `auth` entries are `scheme:credentials` (e.g. `digest:alice:secret`), sent as `addauth` first.
 * Throws (with the transcript, credentials redacted) if any command fails: the shell reports each
 * failure on stderr and carries on, so success is "stderr holds nothing but `Created …` lines".
 * Returns stdout without the connection chatter, then the `Created <path>` lines that
 * ZooKeeper 3.8's create writes to stderr.
 */
export async function zkCli(connectString: string, commands: string[], opts: { auth?: string[] } = {}): Promise<string> {
  const authLines = (opts.auth ?? []).map((entry) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new Error('zkCli auth entries must be scheme:credentials, e.g. digest:alice:secret');
    return `addauth ${entry.slice(0, colon)} ${entry.slice(colon + 1)}`;
  });
  for (const command of commands) {
    if (/[\r\n]/.test(command)) throw new Error(`zkCli commands are single lines: ${JSON.stringify(command)}`);
  }
  const script = [...authLines, ...commands, 'quit'];
  const result = await runJava('org.apache.zookeeper.ZooKeeperMain', ['-server', connectString], {
    input: script.join('\n') + '\n',
    jvmArgs: ['-Dzkvault.log.level=OFF'],
  });

  const stdoutLines = result.stdout.split('\n');
  const kept: string[] = [];
  for (let i = 0; i < stdoutLines.length; i++) {
    const line = stdoutLines[i];
    if (SHELL_NOISE.test(line)) continue;
    // The shell prints a blank line before each watcher message.
    if (line === '' && SHELL_NOISE.test(stdoutLines[i + 1] ?? '')) continue;
    kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  const stderrLines = result.stderr.split('\n').filter((line) => line !== '' && !JVM_NOISE.test(line));
  const created = stderrLines.filter((line) => line.startsWith('Created '));
  const problems = stderrLines.filter((line) => !line.startsWith('Created '));
  // A command skipped because the session is gone (e.g. auth failed) only says so on stdout.
  const skipped = kept.filter((line) => line === 'Not connected');

  if (result.code !== 0 || problems.length > 0 || skipped.length > 0) {
    const shown = [...authLines.map((l) => l.replace(/^(addauth \S+) .*/, '$1 ***')), ...commands];
    throw new Error(
      `zkCli against ${connectString} failed (exit ${result.code}):\n` +
        `commands:\n${shown.map((c) => `  ${c}`).join('\n')}\n` +
        `errors:\n${[...problems, ...skipped].map((l) => `  ${l}`).join('\n')}\n` +
        `output:\n${kept.map((l) => `  ${l}`).join('\n')}`,
    );
  }
  return [...kept, ...created].join('\n');
}

export { keepTmp };
