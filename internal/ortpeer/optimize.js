#!/usr/bin/env node
// Writes the graph ONNX Runtime (CPU, all optimizations, one thread) runs
// for a model: node optimize.js MODEL.onnx OUT.onnx. onnxruntime-node is
// found as ort-run.js finds it (ORT_NODE_DIR).
'use strict';
const path = require('path');
let ort;
try { ort = require('onnxruntime-node'); } catch (e) {
  ort = require(path.join(process.env.ORT_NODE_DIR || '.', 'node_modules', 'onnxruntime-node'));
}
const [model, out] = process.argv.slice(2);
ort.InferenceSession.create(model, {
  graphOptimizationLevel: 'all', optimizedModelFilePath: out, intraOpNumThreads: 1, logSeverityLevel: 3,
}).then(() => process.exit(0), (e) => { console.error(String(e)); process.exit(1); });
