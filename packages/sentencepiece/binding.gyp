{
  "targets": [
    {
      "target_name": "pretext_sentencepiece",
      "sources": ["native/sentencepiece.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions"],
      "libraries": ["-lsentencepiece", "-lsentencepiece_train"]
    }
  ]
}
