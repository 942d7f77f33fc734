#include "app/cli.hpp"

int main(int argc, char** argv) { return rbees::app::main(argc, argv); }
