// ONNX Runtime's CPU engine (onnxruntime-node) on one ONNX model at one batch size: images/s (per
// wall second and per CPU second of the process) and peak RSS, one JSON line; bench/bench_vs_ort.py
// runs it as a yardstick next to fool's backends.
//   node bench/ort_bench.js MODEL BATCH THREADS SECONDS ROUNDS
// ONNX Runtime is found through NODE_PATH (e.g. /work/ort/node_modules after
// `cd /work/ort && npm install --ignore-scripts onnxruntime-node@1.30.0`).
const fs = require("fs");
const ort = require("onnxruntime-node");

function peakRssMb() {
  const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : -1;
}

async function main() {
  const [model, batchArg, threadsArg, secondsArg, roundsArg, sizeArg] = process.argv.slice(2);
  const batch = Number(batchArg), threads = Number(threadsArg), seconds = Number(secondsArg);
  const rounds = Number(roundsArg);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all"});
  const name = session.inputNames[0];
  const shape = sizeArg.split("x").map(Number);  // C x H x W
  const per = shape[0] * shape[1] * shape[2];
  const data = new Float32Array(batch * per);
  let seed = 7;
  for (let i = 0; i < data.length; ++i) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data[i] = seed / 2147483648;
  }
  const feeds = {[name]: new ort.Tensor("float32", data, [batch, ...shape])};
  await session.run(feeds);  // warm-up
  const rates = [], cpuRates = [];
  for (let r = 0; r < rounds; ++r) {
    let calls = 0;
    const start = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    let elapsed = 0;
    while (elapsed < seconds) {
      await session.run(feeds);
      ++calls;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    }
    rates.push(batch * calls / elapsed);
    const cpu = process.cpuUsage(cpu0);  // the whole process's user + system time, every thread
    cpuRates.push(batch * calls / Math.max((cpu.user + cpu.system) / 1e6, 1e-9));
  }
  const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
  console.log(JSON.stringify({backend: "ort", images_per_s: median(rates), images_per_cpu_s: median(cpuRates),
                              peak_rss_mb: peakRssMb()}));
}

main().catch((e) => {
  console.log(JSON.stringify({backend: "ort", error: String(e.message || e).split("\n")[0]}));
  process.exit(1);
});
