#include "cli_docs.hpp"

#include "job_cli.hpp"

#include <dolibak/core/text.hpp>
#include <dolibak/core/version.hpp>
#include <dolibak/job/settings.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

namespace dolibak::cli {

namespace {

// ---- the model: what the app holds, walked once --------------------------------------------

struct Flag {
    std::vector<std::string> names;  ///< "--store", "-h"
    std::string description;
    std::string type;  ///< value placeholder ("PATH", "pg_dump|zstd"); empty for a flag
    bool takes_value = false;
    bool setting = false;  ///< one of the settings flags (listed in `help settings`)
};

struct Cmd {
    std::vector<std::string> path;  ///< {"restore", "db"}
    std::string description;
    std::vector<std::string> positionals;  ///< "which", "file"
    std::vector<Flag> flags;
    std::vector<Cmd> subcommands;

    std::string name() const {
        std::string r;
        for (const auto& p : path) r += (r.empty() ? "" : " ") + p;
        return r;
    }
};

std::vector<const CLI::App*> subcommands_of(const CLI::App& app) {
    auto subs = app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); });
    std::sort(subs.begin(), subs.end(),
              [](const CLI::App* a, const CLI::App* b) { return a->get_name() < b->get_name(); });
    return subs;
}

/// Every settings flag (booleans with their --no- form), built once.
const std::set<std::string>& setting_flags() {
    static const std::set<std::string> flags = [] {
        std::set<std::string> out;
        for (const auto& info : job::setting_keys()) {
            out.insert(job::flag_name(info.key));
            out.insert(job::negated_flag_name(info.key));
        }
        return out;
    }();
    return flags;
}

Cmd model(const CLI::App& app, std::vector<std::string> path) {
    Cmd c;
    c.path = std::move(path);
    c.description = app.get_description();
    for (const CLI::Option* o : app.get_options()) {
        if (o->get_lnames().empty() && o->get_snames().empty()) {
            if (!o->get_name().empty()) c.positionals.push_back(o->get_name());
            continue;
        }
        Flag f;
        for (const auto& l : o->get_lnames()) f.names.push_back("--" + l);
        for (const auto& s : o->get_snames()) f.names.push_back("-" + s);
        f.description = o->get_description();
        f.takes_value = o->get_expected_max() != 0;  // flags expect no value
        if (f.takes_value) f.type = o->get_type_name();
        f.setting = setting_flags().count(f.names.front()) > 0;
        c.flags.push_back(std::move(f));
    }
    for (const CLI::App* s : subcommands_of(app)) {
        auto p = c.path;
        p.push_back(s->get_name());
        c.subcommands.push_back(model(*s, p));
    }
    return c;
}

void flatten(const Cmd& c, std::vector<const Cmd*>& out) {
    out.push_back(&c);
    for (const auto& s : c.subcommands) flatten(s, out);
}

/// The words a value may be: "pg_dump|zstd" → {pg_dump, zstd}; placeholders (N) are left out.
std::vector<std::string> choices_of(const std::string& type) {
    std::vector<std::string> r;
    if (type.find('|') == std::string::npos) return r;
    std::size_t start = 0;
    while (start <= type.size()) {
        auto bar = type.find('|', start);
        if (bar == std::string::npos) bar = type.size();
        std::string word = type.substr(start, bar - start);
        const bool placeholder = std::all_of(word.begin(), word.end(), [](char ch) {
            return std::isupper(static_cast<unsigned char>(ch)) != 0;
        });
        if (!word.empty() && !placeholder) r.push_back(word);
        start = bar + 1;
    }
    return r;
}

bool is_file_type(const std::string& type) {
    return type == "PATH" || type == "FILE";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string r;
    for (const auto& s : v) r += (r.empty() ? "" : sep) + s;
    return r;
}

// ---- roff ------------------------------------------------------------------------------------

/// Text safe inside a roff line: backslashes and dashes escaped, no control at the start.
std::string roff(const std::string& text) {
    std::string r;
    for (char ch : text) {
        if (ch == '\\')
            r += "\\e";
        else if (ch == '-')
            r += "\\-";
        else
            r += ch;
    }
    if (!r.empty() && (r[0] == '.' || r[0] == '\'')) r.insert(0, "\\&");
    return r;
}

// ---- zsh -------------------------------------------------------------------------------------

/// Text inside a single-quoted zsh word that _arguments reads: quotes, brackets and colons
/// escaped.
std::string zsh_desc(const std::string& text) {
    std::string r;
    for (char ch : text) {
        if (ch == '\'')
            r += "'\\''";
        else if (ch == '[' || ch == ']' || ch == ':' || ch == '\\')
            r += std::string("\\") + ch;
        else
            r += ch;
    }
    return r;
}

std::string zsh_function_name(const Cmd& c) {
    std::string r = "_dolibak";
    for (const auto& p : c.path) {
        r += "_";
        for (char ch : p) r += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    }
    return r;
}

}  // namespace

// ---- help settings --------------------------------------------------------------------------

std::string settings_help() {
    std::string s =
        "Settings of the job commands (backup, list, verify, restore, prune, status, check,\n"
        "refresh). Each is a flag of every one of them, an environment variable DOLIBAK_<KEY>\n"
        "and a key of the JSON config file (--config); precedence: flag > environment > file.\n"
        "Booleans are --x / --no-x. Secrets have no flag. docs/configuration.md has the\n"
        "defaults and the allowed ranges.\n";
    for (const auto& topic : job::setting_topics()) {
        s += "\n" + topic + ":\n";
        for (const auto& info : job::setting_keys()) {
            if (info.topic != topic) continue;
            std::string left;
            if (info.secret)
                left = job::env_name(info.key) + " (no flag)";
            else if (info.kind == job::SettingKind::boolean)
                left = job::flag_name(info.key) + ", " + job::negated_flag_name(info.key);
            else
                left = job::flag_name(info.key) + " " + setting_type_name(info);
            if (left.size() > 36)  // a long flag gets its own line: the description column stays
                s += "  " + left + "\n" + std::string(39, ' ') + info.help + "\n";
            else
                s += fmt::format("  {:<36} {}\n", left, info.help);
        }
    }
    return s;
}

// ---- bash ------------------------------------------------------------------------------------

std::string bash_completion(const CLI::App& app) {
    const Cmd root = model(app, {});
    std::vector<const Cmd*> all;
    flatten(root, all);
    std::string s =
        "# bash completion of dolibak (generated by `dolibak completion bash`)\n"
        "_dolibak() {\n"
        "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\"\n"
        "    ((COMP_CWORD > 0)) && prev=\"${COMP_WORDS[COMP_CWORD - 1]}\"\n"
        "    local path=\"\" i w\n"
        "    # The command and its subcommand: the words that name one, in order.\n"
        "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        "        w=\"${COMP_WORDS[i]}\"\n"
        "        [[ $w == -* ]] && continue\n"
        "        case \"${path:+$path }$w\" in\n";
    for (const Cmd* c : all)
        if (!c->path.empty())
            s += "            \"" + c->name() + "\") path=\"" + c->name() + "\" ;;\n";
    s += "        esac\n"
         "    done\n"
         "    # The value of an option of that command.\n"
         "    case \"$path $prev\" in\n";
    std::vector<std::pair<std::string, std::string>> value_actions;  // "cmd --opt", action
    for (const Cmd* c : all)
        for (const auto& f : c->flags) {
            if (!f.takes_value) continue;
            std::string action;
            if (const auto words = choices_of(f.type); !words.empty())
                action = "COMPREPLY=($(compgen -W \"" + join(words, " ") + "\" -- \"$cur\"))";
            else if (f.type == "DIR")
                action = "COMPREPLY=($(compgen -d -- \"$cur\"))";
            else if (is_file_type(f.type))
                action = "COMPREPLY=($(compgen -f -- \"$cur\"))";
            else
                action = "COMPREPLY=()";
            for (const auto& n : f.names) value_actions.emplace_back(c->name() + " " + n, action);
        }
    for (const auto& [name, action] : value_actions)
        s += "        \"" + name + "\") " + action + "; return ;;\n";
    s += "    esac\n"
         "    local words\n"
         "    case \"$path\" in\n";
    for (const Cmd* c : all) {
        std::vector<std::string> words;
        for (const auto& sub : c->subcommands) words.push_back(sub.path.back());
        for (const auto& f : c->flags) words.insert(words.end(), f.names.begin(), f.names.end());
        s += "        \"" + c->name() + "\") words=\"" + join(words, " ") + "\" ;;\n";
    }
    s += "    esac\n"
         "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
         "}\n"
         "complete -F _dolibak dolibak\n";
    return s;
}

// ---- zsh -------------------------------------------------------------------------------------

std::string zsh_completion(const CLI::App& app) {
    const Cmd root = model(app, {});
    std::vector<const Cmd*> all;
    flatten(root, all);
    std::string s =
        "#compdef dolibak\n# zsh completion of dolibak (generated by `dolibak "
        "completion zsh`)\n\n";
    for (const Cmd* c : all) {
        s += zsh_function_name(*c) + "() {\n    local -a specs\n    specs=(\n";
        for (const auto& f : c->flags) {
            const std::string desc = zsh_desc(f.description);
            for (const auto& n : f.names) {
                std::string spec = (f.takes_value ? "*" : "") + n;
                if (f.takes_value && n.starts_with("--")) spec += "=";
                spec += "[" + desc + "]";
                if (f.takes_value) {
                    const auto words = choices_of(f.type);
                    std::string action;
                    if (!words.empty())
                        action = "(" + join(words, " ") + ")";
                    else if (f.type == "DIR")
                        action = "_directories";
                    else if (is_file_type(f.type))
                        action = "_files";
                    spec += ":" + zsh_desc(f.type.empty() ? "value" : f.type) + ":" + action;
                }
                s += "        '" + spec + "'\n";
            }
        }
        s += "    )\n";
        if (c->subcommands.empty()) {
            s += "    _arguments -s $specs '*:argument:_files'\n";
        } else {
            s += "    local -a commands\n    commands=(\n";
            for (const auto& sub : c->subcommands)
                s += "        '" + zsh_desc(sub.path.back()) + ":" + zsh_desc(sub.description) +
                     "'\n";
            s += "    )\n"
                 "    local curcontext=\"$curcontext\" state line\n"
                 "    _arguments -C $specs '1:command:->command' '*::argument:->argument'\n"
                 "    case $state in\n"
                 "        command) _describe -t commands command commands ;;\n"
                 "        argument)\n"
                 "            case $line[1] in\n";
            for (const auto& sub : c->subcommands)
                s += "                " + sub.path.back() + ") " + zsh_function_name(sub) + " ;;\n";
            s += "            esac ;;\n"
                 "    esac\n";
        }
        s += "}\n\n";
    }
    s += "_dolibak \"$@\"\n";
    return s;
}

// ---- man -------------------------------------------------------------------------------------

std::string man_page(const CLI::App& app) {
    const Cmd root = model(app, {});
    std::string s;
    s += ".TH DOLIBAK 1 \"\" \"dolibak " + roff(std::string(dolibak::version())) +
         "\" \"User Commands\"\n";
    s += ".SH NAME\ndolibak \\- backups of a Dolibarr ERP (PostgreSQL database and documents) "
         "to S3 or a directory\n";
    s += ".SH SYNOPSIS\n.B dolibak\n.I command\n[\\fIoptions\\fR]\n";
    s += ".br\n.B dolibak help\n[\\fIcommand\\fR|\\fBsettings\\fR]\n";
    s += ".SH DESCRIPTION\n" + roff(root.description) + ".\n";
    s += ".PP\nThe job commands take the settings of the SETTINGS section as flags, from the "
         "environment (\\fBDOLIBAK_\\fR\\fIKEY\\fR) or from a JSON config file "
         "(\\fB\\-\\-config\\fR); precedence: flag, environment, file.\n";
    s += ".SH COMMANDS\n";
    std::vector<const Cmd*> all;
    flatten(root, all);
    for (const Cmd* c : all) {
        if (c->path.empty()) continue;
        s += ".SS \"" + roff(c->name()) + "\"\n";
        std::string synopsis = "\\fBdolibak " + roff(c->name()) + "\\fR";
        for (const auto& p : c->positionals) synopsis += " [\\fI" + roff(p) + "\\fR]";
        if (!c->subcommands.empty()) synopsis += " \\fIsubcommand\\fR";
        s += synopsis + "\n.PP\n" + roff(c->description) + ".\n";
        bool settings = false;
        for (const auto& f : c->flags) {
            if (f.setting) {
                settings = true;
                continue;
            }
            s += ".TP\n";
            std::string names;
            for (const auto& n : f.names) names += (names.empty() ? "" : ", ") + roff(n);
            s += "\\fB" + names + "\\fR";
            if (f.takes_value) s += " \\fI" + roff(f.type.empty() ? "VALUE" : f.type) + "\\fR";
            s += "\n" + roff(f.description.empty() ? "(no description)" : f.description) + "\n";
        }
        if (settings) s += ".PP\nAnd every setting flag (SETTINGS).\n";
    }
    s += ".SH SETTINGS\n";
    for (const auto& topic : job::setting_topics()) {
        s += ".SS \"" + roff(topic) + "\"\n";
        for (const auto& info : job::setting_keys()) {
            if (info.topic != topic) continue;
            s += ".TP\n";
            if (info.secret)
                s += "\\fB" + roff(job::env_name(info.key)) + "\\fR (secret: no flag)\n";
            else if (info.kind == job::SettingKind::boolean)
                s += "\\fB" + roff(job::flag_name(info.key)) + "\\fR, \\fB" +
                     roff(job::negated_flag_name(info.key)) + "\\fR\n";
            else
                s += "\\fB" + roff(job::flag_name(info.key)) + "\\fR \\fI" +
                     roff(setting_type_name(info)) + "\\fR\n";
            s += roff(info.help) + " (key \\fB" + roff(info.key) + "\\fR, \\fB" +
                 roff(job::env_name(info.key)) + "\\fR).\n";
        }
    }
    s += ".SH EXIT STATUS\n";
    const std::pair<const char*, const char*> codes[] = {
        {"0", "success"},
        {"1",
         "the command ran and found a problem: status stale, verify found a defect, check an "
         "item failing, restore docs a required document missing"},
        {"2",
         "usage or configuration error: unknown command, flag or setting, bad value, missing "
         "config file, store or documents directory, nothing to back up; no run is recorded"},
        {"3", "the operation failed (database, store, I/O, a failed half, a failed post hook)"},
        {"130", "interrupted by SIGINT"},
        {"143", "interrupted by SIGTERM"},
    };
    for (const auto& [code, meaning] : codes)
        s += ".TP\n.B " + std::string(code) + "\n" + roff(meaning) + "\n";
    s += ".SH ENVIRONMENT\n"
         ".TP\n.B DOLIBAK_CONFIG\nthe config file when \\fB\\-\\-config\\fR is not given\n"
         ".TP\n\\fBDOLIBAK_\\fR\\fIKEY\\fR\nany setting (SETTINGS)\n"
         ".TP\n.B DOLIBAK_TARGET_PASSWORD\nthe password of a restore or refresh target\n"
         ".TP\n\\fBPGHOST\\fR, \\fBPGPORT\\fR, \\fBPGUSER\\fR, \\fBPGDATABASE\\fR, "
         "\\fBPGPASSWORD\\fR, \\fBPGSSLMODE\\fR\nthe database settings that are not set\n"
         ".TP\n\\fBAWS_*\\fR, \\fB~/.aws\\fR\nS3 credentials, region and endpoint the settings "
         "leave unset\n";
    s += ".SH SEE ALSO\n"
         "\\fBdolibak help settings\\fR; docs/cli.md, docs/configuration.md and "
         "docs/runbook.md of the source tree.\n";
    return s;
}

// ---- did you mean ----------------------------------------------------------------------------

std::optional<std::string> unknown_command(const CLI::App& app, const std::string& word) {
    std::vector<std::string> names;
    for (const CLI::App* s : subcommands_of(app)) {
        if (s->get_name() == word) return std::nullopt;
        names.push_back(s->get_name());
    }
    const std::string parent = app.get_parent() ? "dolibak " + app.get_name() : "dolibak";
    return "unknown command '" + word + "'" + did_you_mean(word, names) + " (" + parent +
           " --help lists the commands)";
}

std::vector<std::string> unknown_options(const CLI::App& command,
                                         const std::vector<std::string>& extras) {
    std::vector<std::string> names;
    for (const CLI::Option* o : command.get_options()) {
        for (const auto& l : o->get_lnames()) names.push_back("--" + l);
        for (const auto& s : o->get_snames()) names.push_back("-" + s);
    }
    std::vector<std::string> r;
    for (const auto& e : extras) {
        if (!e.starts_with("-") || e == "-") continue;
        const std::string flag = e.substr(0, e.find('='));
        r.push_back("unknown option '" + flag + "'" + did_you_mean(flag, names));
    }
    return r;
}

}  // namespace dolibak::cli
