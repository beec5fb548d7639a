/** The ISO-BMFF / CMAF box layer: pure Buffer-in, objects/Buffers-out readers and writers. */
export * from './box.js';
export * from './box-stream.js';
export * from './codec-string.js';
export * from './emsg.js';
export * from './file-type.js';
export * from './fragment.js';
export * from './init-segment.js';
export * from './sidx.js';
export * from './trex.js';
export * from './writers.js';
