{
  "targets": [
    {
      "target_name": "tsshim_native",
      "sources": [
        "<!@(ls -1 native/*.c)"
      ],
      "cflags": [
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
        "-Werror=implicit-function-declaration",
        "-O2",
        "-fno-strict-aliasing",
        "-fvisibility=hidden"
      ],
      "defines": [
        "_GNU_SOURCE",
        "NAPI_VERSION=8"
      ]
    },
    {
      "target_name": "tsshim-launcher",
      "type": "executable",
      "sources": [
        "<!@(ls -1 native/launcher/*.c)"
      ],
      "cflags": [
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
        "-Werror=implicit-function-declaration",
        "-O2"
      ],
      "defines": [
        "_GNU_SOURCE"
      ]
    }
  ]
}
