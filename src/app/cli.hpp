#pragma once

namespace rbees::app {

// Parses the command line and runs the chosen subcommand ("serve" when none is named).
// Exit codes: 0 success, 1 runtime failure, 2 bad command line, 3 ready callback failed.
int main(int argc, char** argv);

}  // namespace rbees::app
