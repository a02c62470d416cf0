// A FileLayer for tests that knows what a power cut would keep. It passes every step to the real
// filesystem and records, beside it, the durable state POSIX promises and nothing more:
// - a file's data is durable as of its last fsync (a file never fsynced comes back empty);
// - a directory's entries (created, renamed in, removed) are durable as of that directory's last
//   fsync; before that, the entries of the previous fsync (or of startRecording) stand.
// crash() stops all further steps (they fail) and materialize() writes the durable state of the
// tree into another directory: the disk as it would be after the machine lost power then.
//
// It can also fail writes as a full disk does (failWrites = "ENOSPC" or "EDQUOT").
//
// What it cannot cover: only the steps that go through the layer (the blob directory). SQLite
// writes its own files; the power-loss test copies them at the crash instant and relies on
// synchronous=FULL and SQLite's own fsync discipline for them. Reordering inside the kernel
// beyond "not fsynced means lost" (e.g. a torn write that keeps half a page) is not modelled:
// a file never fsynced is modelled as empty, its entry as absent unless its directory was fsynced.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { nodeFileLayer, type FileLayer, type WritableFile } from "./durable-fs.js";

type Entry = { kind: "dir" } | { kind: "file"; inode: number };

export class SimulatedDisk implements FileLayer {
  /** While set, writes fail with this error code, as on a full disk or filesystem quota. */
  failWrites: "ENOSPC" | "EDQUOT" | null = null;
  /** For a negative control: when true, fsync of files (or directories) is silently skipped. */
  skipFileSync = false;
  skipDirectorySync = false;
  /** Called (synchronously) at the step that crashes, e.g. to copy the database files then. */
  onCrash: (() => void) | null = null;
  /** Crashes the disk right after this many more steps (for crashes inside a write). */
  crashAfterSteps: number | null = null;

  private crashed = false;
  private nextInode = 1;
  private readonly durableData = new Map<number, Buffer | null>();
  private readonly inodeAt = new Map<string, number>();
  private readonly durableEntries = new Map<string, Map<string, Entry>>();
  private readonly real: FileLayer = nodeFileLayer;

  constructor(readonly root: string) {}

  get hasCrashed(): boolean {
    return this.crashed;
  }

  /** Takes the tree as it is now as durable (call after the store created its folders). */
  startRecording(): void {
    const walk = (dir: string): void => {
      const entries = new Map<string, Entry>();
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
          entries.set(name, { kind: "dir" });
          walk(path);
        } else {
          entries.set(name, { kind: "file", inode: this.track(path, readFileSync(path)) });
        }
      }
      this.durableEntries.set(dir, entries);
    };
    walk(this.root);
  }

  /** The power goes: from now on every step fails. */
  crash(): void {
    if (this.crashed) return;
    this.crashed = true;
    this.onCrash?.();
  }

  /** Writes the durable state of the recorded tree under `target` (which must not exist). */
  materialize(target: string): void {
    const build = (dir: string): void => {
      const out = join(target, relative(this.root, dir));
      mkdirSync(out, { recursive: true });
      for (const [name, entry] of this.durableEntries.get(dir) ?? new Map<string, Entry>()) {
        if (entry.kind === "dir") build(join(dir, name));
        else writeFileSync(join(out, name), this.durableData.get(entry.inode) ?? Buffer.alloc(0));
      }
    };
    build(this.root);
  }

  // FileLayer ---------------------------------------------------------------------------------

  async createExclusive(path: string): Promise<WritableFile> {
    this.step();
    const file = await this.real.createExclusive(path);
    const inode = this.track(path, null);
    return {
      write: async (buffer, offset, length) => {
        this.step();
        if (this.failWrites !== null) throw errnoError(this.failWrites, "write", path);
        return file.write(buffer, offset, length);
      },
      sync: async () => {
        this.step();
        await file.sync();
        if (!this.skipFileSync) this.durableData.set(inode, readFileSync(this.pathOf(inode) ?? path));
      },
      close: () => file.close(),
    };
  }

  async rename(from: string, to: string): Promise<void> {
    this.step();
    await this.real.rename(from, to);
    const inode = this.inodeAt.get(from);
    this.inodeAt.delete(from);
    if (inode !== undefined) this.inodeAt.set(to, inode);
  }

  async unlink(path: string): Promise<void> {
    this.step();
    await this.real.unlink(path);
    this.inodeAt.delete(path);
  }

  async mkdirs(path: string): Promise<string | undefined> {
    this.step();
    return this.real.mkdirs(path);
  }

  async readdir(path: string): Promise<string[]> {
    this.step();
    return this.real.readdir(path);
  }

  async stat(path: string): Promise<{ size: number; mtimeMs: number }> {
    this.step();
    return this.real.stat(path);
  }

  async fsyncDirectory(path: string): Promise<void> {
    this.step();
    await this.real.fsyncDirectory(path);
    if (this.skipDirectorySync) return;
    const entries = new Map<string, Entry>();
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      if (statSync(child).isDirectory()) entries.set(name, { kind: "dir" });
      else entries.set(name, { kind: "file", inode: this.inodeAt.get(child) ?? this.track(child, readFileSync(child)) });
    }
    this.durableEntries.set(path, entries);
  }

  async fsyncFile(path: string): Promise<void> {
    this.step();
    await this.real.fsyncFile(path);
    const inode = this.inodeAt.get(path);
    if (!this.skipFileSync && inode !== undefined) this.durableData.set(inode, readFileSync(path));
  }

  // -------------------------------------------------------------------------------------------

  private step(): void {
    if (this.crashed) throw errnoError("EIO", "crashed", this.root);
    if (this.crashAfterSteps !== null && this.crashAfterSteps-- <= 0) {
      this.crash();
      throw errnoError("EIO", "crashed", this.root);
    }
  }

  private track(path: string, durable: Buffer | null): number {
    const inode = this.nextInode++;
    this.inodeAt.set(path, inode);
    this.durableData.set(inode, durable);
    return inode;
  }

  private pathOf(inode: number): string | null {
    for (const [path, at] of this.inodeAt) if (at === inode) return path;
    return null;
  }
}

function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated, ${syscall} '${path}'`), { code, syscall, path });
}
