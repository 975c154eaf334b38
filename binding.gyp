{
  "targets": [
    {
      "target_name": "immortal",
      "sources": [
        "native/addon.cc",
        "native/dir_signature.cc",
        "native/errors.cc",
        "native/exec.cc",
        "native/spawn.cc",
        "native/spawn_child.cc",
        "native/spawn_clone3.cc",
        "native/step_aside.cc",
        "native/limits.cc",
        "native/lines.cc",
        "native/log_copier.cc",
        "native/log_file.cc",
        "native/listen.cc",
        "native/notify.cc",
        "native/pidfd.cc",
        "native/prepared_restart.cc",
        "native/user.cc",
        "native/process.cc",
        "native/reap.cc",
        "native/memory.cc",
        "native/watch.cc",
        "native/watch_linux.cc",
        "native/watch_kqueue.cc",
        "native/watch_poll.cc",
        "native/unix-listener.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      }
    }
  ]
}
