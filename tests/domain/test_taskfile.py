"""Task files: every key of DESIGN 7 with its default, and one exact line for each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcron.domain.enums import CatchupPolicy, OverlapPolicy
from smartcron.domain.taskfile import (
    RESERVED_PREFIX,
    decode_task_file,
    load_task_file,
    parse_task_file,
    spec_from_mapping,
)
from smartcron.errors import TaskSpecError

REPO = Path(__file__).resolve().parents[2]


def one_task(*lines: str, name: str = "payroll_sync") -> str:
    """A valid [[task]] whose keys are replaced or extended by ``lines`` (``key = value``)."""
    keys = {
        "name": f'"{name}"',
        "command": '["php", "/var/www/jobs/payroll_sync.php"]',
        "schedule": '"*/30 * * * *"',
    }
    extra: list[str] = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if key in keys:
            keys[key] = line.split("=", 1)[1].strip()
        else:
            extra.append(line)
    body = [f"{key} = {value}" for key, value in keys.items()] + extra
    return "[[task]]\n" + "\n".join(body) + "\n"


def parse(text: str) -> list:
    return parse_task_file(text, source="tasks.toml", default_timezone="Pacific/Auckland")


def error_of(text: str) -> TaskSpecError:
    with pytest.raises(TaskSpecError) as caught:
        parse(text)
    message = caught.value.message
    assert "\n" not in message, "an error is one line"
    return caught.value


def test_minimal_task_gets_every_default_of_the_design():
    (spec,) = parse(one_task())
    assert spec.name == "payroll_sync"
    assert spec.command == ("php", "/var/www/jobs/payroll_sync.php")
    assert (spec.category, spec.description, spec.shell, spec.working_dir, spec.env) == ("default", "", False, None, ())
    assert spec.timezone is None, "no zone in the file means the configured default, decided at run time"
    assert (spec.enabled, spec.priority, spec.notify_on_failure) == (True, 2, True)
    assert (spec.timeout, spec.kill_grace, spec.retries) == (300, 10, 3)
    assert (spec.retry_delay, spec.retry_max_delay, spec.fatal_exit_codes) == (30, 900, ())
    assert (spec.max_memory_mb, spec.max_cpu_seconds, spec.nice, spec.starting_deadline) == (None, None, None, None)
    assert (spec.overlap, spec.catchup, spec.max_output_kb) == (OverlapPolicy.FORBID, CatchupPolicy.LATEST, 10240)
    assert (spec.notify_emails, spec.nodes) == ((), ())


def test_every_key_is_read_with_its_type():
    text = one_task(
        'category = "payroll"',
        'description = "Sync payroll"',
        'working_dir = "/var/www"',
        'timezone = "Pacific/Auckland"',
        "enabled = false",
        "priority = 1",
        "notify_on_failure = false",
        "timeout = 600",
        "kill_grace = 5",
        "retries = 0",
        "retry_delay = 10",
        "retry_max_delay = 60",
        "fatal_exit_codes = [2, 64]",
        "max_memory_mb = 512",
        "max_cpu_seconds = 120",
        "nice = 10",
        'overlap = "queue"',
        'catchup = "all"',
        "starting_deadline = 3600",
        "max_output_kb = 64",
        'notify_emails = ["payroll@example.co.nz"]',
        'nodes = ["web1", "role:batch"]',
        "[task.env]",
        'LANG = "C.UTF-8"',
        'APP_ENV = "production"',
    )
    (spec,) = parse(text)
    assert spec.category == "payroll" and spec.description == "Sync payroll" and spec.working_dir == "/var/www"
    assert spec.env == (("APP_ENV", "production"), ("LANG", "C.UTF-8"))
    assert spec.timezone == "Pacific/Auckland" and spec.enabled is False and spec.priority == 1
    assert spec.notify_on_failure is False and spec.timeout == 600 and spec.kill_grace == 5 and spec.retries == 0
    assert (spec.retry_delay, spec.retry_max_delay, spec.fatal_exit_codes) == (10, 60, (2, 64))
    assert (spec.max_memory_mb, spec.max_cpu_seconds, spec.nice) == (512, 120, 10)
    assert (spec.overlap, spec.catchup, spec.starting_deadline) == (OverlapPolicy.QUEUE, CatchupPolicy.ALL, 3600)
    assert spec.max_output_kb == 64 and spec.notify_emails == ("payroll@example.co.nz",)
    assert spec.nodes == ("web1", "role:batch")


def test_shell_command_is_one_string():
    (spec,) = parse(one_task('command = "php job.php | tee /tmp/out"', "shell = true"))
    assert spec.shell and spec.command == ("php job.php | tee /tmp/out",)


# (what goes wrong, task-file lines, the line of the file it is on, field, words of the message)
BAD_TASKS = [
    ("minute out of range", ['schedule = "60 * * * *"'], 4, "schedule", "60"),
    ("too few fields", ['schedule = "* * *"'], 4, "schedule", "* * *"),
    ("zero step", ['schedule = "*/0 * * * *"'], 4, "schedule", "*/0"),
    ("never fires", ['schedule = "0 0 30 2 *"'], 4, "schedule", "0 0 30 2 *"),
    ("day of week 8", ['schedule = "0 0 * * 8"'], 4, "schedule", "8"),
    ("unknown zone", ['timezone = "Mars/Base"'], 5, "timezone", "unknown time zone 'Mars/Base'"),
    ("timeout 0", ["timeout = 0"], 5, "timeout", "must be a positive number of seconds, got 0"),
    ("timeout negative", ["timeout = -5"], 5, "timeout", "must be a positive number of seconds, got -5"),
    ("retries -1", ["retries = -1"], 5, "retries", "must not be negative"),
    ("retries huge", ["retries = 1000000"], 5, "retries", "must be at most 100, got 1000000"),
    ("empty command", ["command = []"], 3, "command", "must not be empty"),
    ("empty argument", ['command = ["php", ""]'], 3, "command", "argument 2 must not be empty"),
    ("shell string without shell", ['command = "php job.php"'], 3, "command", "shell = true"),
    ("shell with empty string", ['command = "  "', "shell = true"], 3, "command", "must not be empty"),
    (
        "string for a number",
        ['timeout = "30"'],
        5,
        "timeout",
        "must be an integer (number of seconds), got string '30'",
    ),
    ("boolean for a number", ["retries = true"], 5, "retries", "got boolean true"),
    ("float for a number", ["timeout = 1.5"], 5, "timeout", "got float 1.5"),
    ("priority 4", ["priority = 4"], 5, "priority", "must be 1 (critical), 2 (high) or 3 (low), got integer 4"),
    ("nice 20", ["nice = 20"], 5, "nice", "must be at most 19"),
    ("kill_grace negative", ["kill_grace = -1"], 5, "kill_grace", "must not be negative"),
    ("retry delay above max", ["retry_delay = 1000"], 5, "retry_delay", "must not exceed retry_max_delay (900)"),
    ("exit code 0", ["fatal_exit_codes = [0]"], 5, "fatal_exit_codes", "from 1 to 255"),
    ("exit code 256", ["fatal_exit_codes = [1, 256]"], 5, "fatal_exit_codes", "from 1 to 255"),
    ("memory 0", ["max_memory_mb = 0"], 5, "max_memory_mb", "positive"),
    ("cpu 0", ["max_cpu_seconds = 0"], 5, "max_cpu_seconds", "positive"),
    ("overlap", ['overlap = "sometimes"'], 5, "overlap", "must be one of forbid, queue, replace, allow"),
    ("catchup", ['catchup = "most"'], 5, "catchup", "must be one of latest, all, none"),
    ("deadline 0", ["starting_deadline = 0"], 5, "starting_deadline", "positive"),
    ("output 0", ["max_output_kb = 0"], 5, "max_output_kb", "positive"),
    ("email", ['notify_emails = ["ops.example.com"]'], 5, "notify_emails", "'ops.example.com' is not an email address"),
    ("node", ['nodes = ["web 1"]'], 5, "nodes", "'web 1' is not a node name"),
    ("env name", ['env = { "1BAD" = "x" }'], 5, "env", "'1BAD' is not a valid variable name"),
    ("env value type", ["env = { PORT = 8080 }"], 5, "env", "variable 'PORT' must be a string, got integer 8080"),
    ("relative working dir", ['working_dir = "jobs"'], 5, "working_dir", "must be an absolute path"),
    ("enabled as string", ['enabled = "yes"'], 5, "enabled", "must be true or false"),
    ("category with slash", ['category = "a/b"'], 5, "category", "must be a slug"),
    ("reserved name", ['name = "smartcron.backup"'], 2, "name", "reserved for built-in tasks"),
    ("name with slash", ['name = "pay/roll"'], 2, "name", "must not contain '/' or '..'"),
    ("name with dot dot", ['name = "pay..roll"'], 2, "name", "must not contain '/' or '..'"),
    ("name with space", ['name = "pay roll"'], 2, "name", "must be a slug"),
]


@pytest.mark.parametrize(
    ("lines", "line", "field", "words"), [case[1:] for case in BAD_TASKS], ids=[c[0] for c in BAD_TASKS]
)
def test_bad_value_names_file_line_task_and_field(lines, line, field, words):
    error = error_of(one_task(*lines))
    assert (error.line, error.field) == (line, field)
    assert error.message.startswith(f"tasks.toml:{line}: task ")
    assert f"field {field!r}: " in error.message
    assert words in error.message


def test_error_line_reads_like_the_design_example():
    error = error_of(one_task("timeout = 0"))
    assert error.message == (
        "tasks.toml:5: task 'payroll_sync', field 'timeout': must be a positive number of seconds, got 0"
    )


def test_never_firing_schedule_says_so():
    error = error_of(one_task('schedule = "0 0 30 2 *"'))
    assert "never" in error.message


def test_unknown_key_is_named_with_its_line_and_a_suggestion():
    error = error_of(one_task("timeout = 30", "tiemout = 30"))
    assert error.line == 6
    assert "unknown key 'tiemout'; did you mean 'timeout'?" in error.message
    assert error.message.startswith("tasks.toml:6: task 'payroll_sync': ")


def test_unknown_key_far_from_any_known_key_gets_no_suggestion():
    error = error_of(one_task("colour = 'blue'"))
    assert error.message.endswith("unknown key 'colour'")


def test_lines_point_into_the_right_task_of_several():
    text = one_task(name="first") + "\n" + one_task("retries = -1", name="second")
    error = error_of(text)
    assert (error.task, error.line) == ("second", 10)


def test_key_below_a_subtable_is_not_mistaken_for_the_task_key():
    text = "[[task]]\nname = 'a'\ncommand = ['x']\nschedule = '* * * * *'\ntimeout = 0\n[task.env]\ntimeout = '1'\n"
    assert error_of(text).line == 5


def test_missing_required_key_is_named():
    error = error_of('[[task]]\nname = "a"\ncommand = ["x"]\n')
    assert error.field == "schedule" and "missing" in error.message and error.line == 1


def test_missing_name_is_reported_without_a_task_name():
    error = error_of('[[task]]\ncommand = ["x"]\nschedule = "@daily"\n')
    assert error.message == "tasks.toml:1: field 'name': missing; every task needs name, command, schedule"


def test_duplicate_name_points_at_both_definitions():
    error = error_of(one_task() + "\n" + one_task())
    assert error.message == "tasks.toml:7: task 'payroll_sync', field 'name': duplicate name; first defined at line 1"


def test_nul_byte_is_refused_with_its_line():
    error = error_of(one_task() + 'description = "a\x00b"\n')
    assert error.message == "tasks.toml:5: contains a NUL byte; a task file must be text"


def test_text_that_is_not_toml_gives_the_toml_error_and_line():
    error = error_of('[[task]]\nname = "a"\ntimeout = = 3\n')
    assert error.line == 3
    assert error.message.startswith("tasks.toml:3: not valid TOML: ")


def test_unterminated_document_points_at_its_end():
    error = error_of('[[task]]\nname = "a\n')
    assert error.message.startswith("tasks.toml:2: not valid TOML")


def test_deeply_nested_toml_is_an_error_not_a_crash():
    error = error_of("x = " + "[" * 100_000)
    assert "not valid TOML" in error.message


def test_single_brackets_are_explained():
    error = error_of('[task]\nname = "a"\n')
    assert error.message == "tasks.toml:1: write [[task]] (double brackets), one per task"


def test_unknown_top_level_key_is_named():
    error = error_of('tasks = []\n[[task]]\nname = "a"\n')
    assert error.message.startswith("tasks.toml:1: unknown top-level key 'tasks'; did you mean 'task'?")


def test_empty_file_has_no_tasks():
    assert parse("# nothing yet\n") == []


def test_bytes_that_are_not_utf8_are_refused_with_their_line():
    with pytest.raises(TaskSpecError) as caught:
        decode_task_file(b'[[task]]\nname = "caf\xe9"\n', source="tasks.toml")
    assert caught.value.message == "tasks.toml:2: not UTF-8 text (byte 0xe9 at offset 20)"


def test_utf8_byte_order_mark_is_accepted():
    assert decode_task_file(b"\xef\xbb\xbf# tasks\n", source="t") == "# tasks\n"


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(TaskSpecError, match=r"^.*nope\.toml: cannot read: No such file or directory$"):
        load_task_file(tmp_path / "nope.toml", default_timezone="UTC")


def test_schedule_is_checked_in_the_tasks_own_zone():
    # 02:30 does not exist in Auckland on 2026-09-27, but it does on other days: still a valid task.
    (spec,) = parse(one_task('schedule = "30 2 27 9 *"', 'timezone = "Pacific/Auckland"'))
    assert spec.schedule == "30 2 27 9 *"


def test_mapping_with_none_values_takes_the_defaults():
    spec = spec_from_mapping(
        {"name": "a", "command": ["x"], "schedule": "@hourly", "timeout": None, "nice": None},
        default_timezone="UTC",
    )
    assert spec.timeout == 300 and spec.nice is None


def test_mapping_error_carries_the_given_line_and_source():
    with pytest.raises(TaskSpecError) as caught:
        spec_from_mapping(
            {"name": "a", "command": ["x"], "schedule": "@hourly", "retries": -1},
            default_timezone="UTC",
            source="api",
            line=3,
        )
    assert caught.value.message.startswith("api:3: task 'a', field 'retries': ")


def test_reserved_names_are_allowed_only_when_asked_for():
    data = {"name": RESERVED_PREFIX + "backup", "command": ["x"], "schedule": "@daily"}
    with pytest.raises(TaskSpecError, match="reserved"):
        spec_from_mapping(data, default_timezone="UTC")
    assert spec_from_mapping(data, default_timezone="UTC", allow_reserved_name=True).name == "smartcron.backup"


def test_the_example_registry_parses_into_the_seeds_25_tasks():
    specs = load_task_file(REPO / "examples" / "tasks.toml", default_timezone="UTC")
    assert len(specs) == 25
    assert {spec.category for spec in specs} == {
        "flagged_products", "payroll", "consignments", "bank", "staff", "system", "vend", "monitoring",
    }  # fmt: skip
    assert all(spec.timezone == "Pacific/Auckland" for spec in specs)
    assert all(30 <= spec.timeout <= 900 for spec in specs)
    assert all(spec.description for spec in specs)
    by_name = {spec.name: spec for spec in specs}
    assert by_name["fetch_transactions"].schedule == "0 */4 * * *"
    assert by_name["auto_categorize"].schedule == "30 */4 * * *"
    assert by_name["process_payments"].schedule == "0 8-18 * * *"
    assert by_name["sync_vend_sales"].schedule == "15 * * * *"
    assert by_name["payroll_auto_start"].schedule == "0 6 * * 1"


def test_the_demo_registry_parses():
    specs = load_task_file(REPO / "examples" / "demo.toml", default_timezone="UTC")
    assert {spec.name for spec in specs} == {"demo_heartbeat", "demo_flaky", "demo_slow", "demo_chatty"}
    assert all(len(spec.schedule.split()) == 6 for spec in specs)
