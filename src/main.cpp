#include "cli/main.h"

int main(int argc, char** argv) { return dd::cli::run(argc, argv); }
