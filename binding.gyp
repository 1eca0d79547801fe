{
  "targets": [
    {
      "target_name": "tsshim_native",
      "sources": [
        "native/addon.c",
        "native/error.c"
      ],
      "cflags": [
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror=implicit-function-declaration",
        "-O2",
        "-fno-strict-aliasing"
      ],
      "defines": [
        "_GNU_SOURCE",
        "NAPI_VERSION=8"
      ]
    }
  ]
}