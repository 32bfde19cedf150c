// qode-shim.cpp — lets NodeGui's native addon run under plain `node` (Linux, offline build).
//
// Why this exists:
//   NodeGui's addon (nodegui_core.node) is normally loaded by `qode`, a patched Node.js binary
//   that exports three symbols the addon refers to (see
//   node_modules/@nodegui/nodegui/src/cpp/include/nodegui/core/Integration/qode-api.h):
//     qode::qode_argc, qode::qode_argv      -> argc/argv handed to QApplication
//     qode::InjectCustomRunLoop(fn)         -> qode calls fn (which runs app->exec()) as its loop
//   qode is downloaded from GitHub in a postinstall step, which is unreachable here, so we
//   install with --ignore-scripts and build the addon ourselves. Under plain node those symbols
//   would be undefined at dlopen() time. scripts/build-qt-addon.sh compiles this file *into* the
//   addon by passing --CDCMAKE_JS_SRC=<this file> to cmake-js (NodeGui's CMakeLists adds
//   ${CMAKE_JS_SRC} to the addon sources), so NodeGui itself is not patched.
//
// Consequence: nobody runs Qt's event loop. The app must pump it from JS, e.g.
//   setInterval(() => QApplication.instance().processEvents(), 16);
// and must never call app.exec() (it would block Node's own loop).
// On Windows/macOS the standard `npm install` + qode is used instead; this file is Linux-only.

namespace qode {

// QApplication keeps a reference to argc and the argv pointer for its whole lifetime,
// so both must have static storage duration.
static char qode_arg0[] = "node";
static char *qode_argv_storage[] = {qode_arg0, nullptr};

int qode_argc = 1;
char **qode_argv = qode_argv_storage;

typedef int (*QodeCustomRunLoopFunc)();

// qode would run this function instead of libuv's loop. Under plain node we keep libuv's loop
// and pump Qt from JS, so the function is just remembered and never called.
static QodeCustomRunLoopFunc qode_custom_run_loop = nullptr;

void InjectCustomRunLoop(QodeCustomRunLoopFunc customRunLoop) {
  qode_custom_run_loop = customRunLoop;
}

}  // namespace qode
