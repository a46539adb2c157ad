{
  "targets": [
    {
      "target_name": "pretext_torch",
      "sources": [
        "native/addon.cc",
        "native/dispatch.cc",
        "native/distributed.cc"
      ],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.cjs include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "USE_C10D_GLOO"
      ],
      "cflags!": [
        "-fno-exceptions",
        "-fno-rtti"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-fno-rtti",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O2",
        "-fexceptions",
        "-frtti",
        "-Wno-unused-parameter",
        "-Wno-deprecated-declarations"
      ],
      "libraries": [
        "-L<!@(node scripts/find-libtorch.cjs lib)",
        "-Wl,-rpath,<!@(node scripts/find-libtorch.cjs lib)",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
        "-lgloo"
      ]
    }
  ]
}
