// Prints where libtorch lives, for binding.gyp. Order, as tch-rs does it: the LIBTORCH
// folder (a pytorch.org download with include/ and lib/, CUDA builds included), then
// LIBTORCH_INCLUDE + LIBTORCH_LIB, then the system install (Debian/Ubuntu libtorch-dev).
// Usage: node find-libtorch.cjs include|lib|rpath
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function systemLibDirs() {
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  return dirs.filter((d) => fs.existsSync(path.join(d, 'libtorch_cpu.so')));
}

function locate() {
  const env = process.env;
  if (env.LIBTORCH) {
    const inc = path.join(env.LIBTORCH, 'include');
    const lib = path.join(env.LIBTORCH, 'lib');
    if (!fs.existsSync(path.join(inc, 'ATen', 'ATen.h'))) {
      throw new Error(`LIBTORCH=${env.LIBTORCH} has no include/ATen/ATen.h: point it at an unpacked libtorch folder`);
    }
    return { include: inc, lib };
  }
  if (env.LIBTORCH_INCLUDE && env.LIBTORCH_LIB) return { include: env.LIBTORCH_INCLUDE, lib: env.LIBTORCH_LIB };
  for (const inc of ['/usr/include', '/usr/local/include']) {
    const lib = systemLibDirs()[0];
    if (fs.existsSync(path.join(inc, 'ATen', 'ATen.h')) && lib) return { include: inc, lib };
  }
  throw new Error(
    'libtorch not found. Either set LIBTORCH to an unpacked libtorch folder (https://pytorch.org, ' +
      'with include/ and lib/), or install the system package: sudo apt-get install libtorch-dev libopenblas0-pthread',
  );
}

try {
  const where = locate();
  const what = process.argv[2];
  if (what === 'include') {
    console.log([where.include, path.join(where.include, 'torch', 'csrc', 'api', 'include')].join(' '));
  } else if (what === 'lib') {
    console.log(where.lib);
  } else {
    throw new Error('usage: find-libtorch.cjs include|lib');
  }
} catch (err) {
  console.error(`\n[pretext] ${err.message}\n`);
  process.exit(1);
}
