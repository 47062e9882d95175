// Node flags every `lookalike` process starts with. The first line of bin/lookalike.js repeats them (a
// shebang cannot import; tests/cli.test.ts checks the two agree), Discord's shard processes are
// started with them, and the benchmarks run with them so that they measure what ships.
//
// --initial-old-space-size=64: a match allocates megabytes of buffers outside V8's heap (the decoded
// photo alone is 4.5 MB at 1.5 MP), which V8 counts towards its collection limits; with a ~10 MB heap
// its default limits ran a full mark-compact after 8 photos in 10 (3-6 ms each). With 64 MB it ran after 1 in 20 over 390 photos, `match` took 56-61 ms a photo
// against 67-70, and the resident memory stayed the same (bench VM, three runs each way).
export const NODE_FLAGS: readonly string[] = Object.freeze(['--initial-old-space-size=64']);
