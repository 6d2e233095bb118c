{
  "targets": [
    {
      "target_name": "pidguard",
      "sources": ["native/binding.c", "native/napi.c", "native/handle.c", "native/held.c", "native/lock.c", "native/wait.c"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS=='win'", {
          "sources": ["native/win32.c", "native/thread_win32.c", "native/child_win32.c"],
          "defines": ["UNICODE", "_UNICODE", "WIN32_LEAN_AND_MEAN"]
        }, {
          "sources": ["native/posix.c", "native/parent_posix.c", "native/wake_posix.c", "native/thread_posix.c", "native/child_binding.c", "native/child_posix.c"],
          "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
          "xcode_settings": {
            "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"]
          }
        }]
      ]
    }
  ]
}
