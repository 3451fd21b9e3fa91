#include "tresse/cli/program.hpp"

#include <iostream>
#include <utility>

namespace tresse::cli {
namespace {

// The command the parse got to ("tresse-dispatcher endpoints create") and its App.
const CLI::App& chosen_command(const CLI::App& app, std::string& path) {
  path = app.get_name();
  const CLI::App* at = &app;
  for (auto subs = at->get_subcommands(); !subs.empty(); subs = at->get_subcommands()) {
    at = subs.front();
    path += " " + at->get_name();
  }
  return *at;
}

std::string parent_path(const std::string& path) {
  const auto space = path.rfind(' ');
  return space == std::string::npos ? std::string() : path.substr(0, space);
}

// The whole help of `app` and of every command under it, one after the other: what help2man
// turns into the man page.
void print_every_help(const CLI::App& app, const std::string& parent) {
  std::cout << app.help(parent) << "\n";
  const std::string path = parent.empty() ? app.get_name() : parent + " " + app.get_name();
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    print_every_help(*sub, path);
  }
}

int report_usage(const CLI::App& app, const std::string& message) {
  std::string path;
  const CLI::App& at = chosen_command(app, path);
  // A command that needs a subcommand got none, or a word that names none of them: list them.
  if (at.get_require_subcommand_min() > 0 && at.get_subcommands().empty()) {
    const auto rest = at.remaining();
    if (!rest.empty() && !rest.front().starts_with("-")) {
      std::cerr << path << ": unknown command '" << rest.front() << "'\n\n";
    } else if (message == "A subcommand is required") {
      std::cerr << path << ": a command is required\n\n";
    } else {
      std::cerr << path << ": " << message << "\n\n";
    }
    std::cerr << at.help(parent_path(path));
    return exit_usage;
  }
  std::cerr << path << ": " << message << "\nRun '" << path << " --help' for usage.\n";
  return exit_usage;
}

// A number (as CLI11 reads one) for which `ok` holds, else `message`.
CLI::Validator number_check(std::function<bool(double)> ok, std::string message) {
  return CLI::Validator(
      [ok = std::move(ok), message = std::move(message)](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v)) return "must be a number";
        return ok(v) ? "" : message;
      },
      "");
}

}  // namespace

CLI::Validator non_negative() {
  return number_check([](double v) { return v >= 0; }, "must be 0 or more");
}

CLI::Validator positive() {
  return number_check([](double v) { return v > 0; }, "must be more than 0");
}

CLI::Validator in_range(std::int64_t min, std::int64_t max) {
  const auto lo = static_cast<double>(min), hi = static_cast<double>(max);
  return number_check([lo, hi](double v) { return v >= lo && v <= hi; },
                      "must be between " + std::to_string(min) + " and " + std::to_string(max));
}

program::program(std::string name, std::string description)
    : app_(std::move(description), name), version_(name + " " + TRESSE_VERSION) {
  app_.get_formatter()->label("Usage", "usage");
  app_.get_formatter()->column_width(32);
  app_.set_version_flag("--version", version_, "Print the version and exit");
}

CLI::App& program::command(CLI::App& parent, std::string name, std::string description,
                           std::function<int()> action) {
  CLI::App* sub = parent.add_subcommand(std::move(name), std::move(description));
  sub->set_version_flag("--version", version_, "Print the version and exit");
  parent.require_subcommand(1);
  if (action) on_chosen(*sub, std::move(action));
  return *sub;
}

void program::action(std::function<int()> action) { on_chosen(app_, std::move(action)); }

void program::on_chosen(CLI::App& app, std::function<int()> action) {
  // CLI11 runs a subcommand's callback before its parent's: the first one set is the deepest.
  app.callback([this, action = std::move(action)] {
    if (!chosen_) chosen_ = action;
  });
}

int program::main(int argc, const char* const* argv) {
  chosen_ = nullptr;
  // Set last, so that it stays the program's own and no subcommand inherits it.
  if (app_.get_help_all_ptr() == nullptr) {
    app_.set_help_all_flag("--help-all", "Print the help of every command and exit");
  }
  try {
    app_.parse(argc, argv);
  } catch (const CLI::CallForAllHelp&) {
    print_every_help(app_, "");
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app_.exit(e);  // --help, --version
    return report_usage(app_, e.what());
  }
  if (!chosen_) return 0;
  try {
    return chosen_();
  } catch (const usage_error& e) {
    return report_usage(app_, e.what());
  }
}

}  // namespace tresse::cli
