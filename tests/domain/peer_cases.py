"""Cases taken, as data, from the test suites of other cron libraries (the idea of each case is
theirs; the expressions and times are restated here, not their code).

Each case: (expression, start, the next fire times after it), all in UTC wall-clock time. The
expected times are Debian cron's answer. Where a library follows other rules on purpose its own
answer is noted beside the case, and the expected times are still Debian's (the model in
debian_cron_model.py checks every case as well). ``None`` as expected: the model alone decides.
"""

from __future__ import annotations

Case = tuple[str, str, list[str] | None]

# The one wrong answer of issue 15: a one-value range with a step is that value alone, as Debian
# fills a range with for (i = start; i <= stop; i += step). Found by comparing random expressions
# with the model in Pacific/Auckland, Europe/Berlin, America/New_York and America/Santiago.
ONE_VALUE_RANGES: list[Case] = [
    ("0 0 13-13/1 * *", "2026-01-01 00:00", ["2026-01-13 00:00", "2026-02-13 00:00"]),
    ("59-59 * * 6-6/2 *", "2026-01-01 00:00", ["2026-06-01 00:59", "2026-06-01 01:59"]),
    # Wednesday, Friday and Wednesday again (3-3/2 is 3 alone, not 3 and 5)
    ("* 4 * * WED-3,FRI-5,3-3/2", "2026-01-01 00:00", ["2026-01-02 04:00", "2026-01-02 04:01"]),
    ("53-53/3 * * * *", "2026-01-01 00:00", ["2026-01-01 00:53", "2026-01-01 01:53"]),
    ("0-0/3 * * * *", "2026-01-01 00:00", ["2026-01-01 01:00", "2026-01-01 02:00"]),
    ("0 2-2/4 * * *", "2026-01-01 00:00", ["2026-01-01 02:00", "2026-01-02 02:00"]),
    ("45-45/5 * * * *", "2026-01-01 00:00", ["2026-01-01 00:45", "2026-01-01 01:45"]),
]

# A step without a range: refused by Debian, read as "to the field's end" by cronsim, croniter,
# robfig/cron and gorhill/cronexpr; smartcron keeps that reading on purpose.
STEP_WITHOUT_RANGE: list[Case] = [
    ("1/10 * * * *", "2026-01-01 00:00", ["2026-01-01 00:01", "2026-01-01 00:11", "2026-01-01 00:21"]),
    # cronsim tests/test_cronsim.py (start with a step)
    ("5/15 * * * *", "2020-01-01 00:00", ["2020-01-01 00:05", "2020-01-01 00:20", "2020-01-01 00:35"]),
    # robfig/cron spec_test.go (every fifteen minutes, wrapping days)
    ("15/35 20-35/15 1/2 */2 * *", "2012-07-09 23:35:51", ["2012-07-11 01:20:15", "2012-07-11 01:20:50"]),
    # robfig/cron spec_test.go: Mon/2 is Monday, Wednesday, Friday (and 7, Sunday, as Debian's 1-7/2)
    ("0 0 0 * Feb Mon/2", "2012-07-09 23:35", ["2013-02-01 00:00", "2013-02-03 00:00", "2013-02-04 00:00"]),
]

QUESTION_MARK: list[Case] = [
    # dragonmantank/cron-expression CronExpressionTest.php scheduleProvider
    ("0 12 * * ?", "2020-08-20 00:00", ["2020-08-20 12:00", "2020-08-21 12:00"]),
    ("0 12 ? * *", "2020-08-20 00:00", ["2020-08-20 12:00", "2020-08-21 12:00"]),
    ("0 20 L 6,12 ?", "2022-08-20 03:44:02", ["2022-12-31 20:00", "2023-06-30 20:00", "2023-12-31 20:00"]),
    # robfig/cron spec_test.go TestActivation and TestNext
    ("30 08 ? Jul Sun", "2012-07-15 08:29:59", ["2012-07-15 08:30", "2012-07-22 08:30"]),
    ("30 08 15 Jul ?", "2012-07-15 08:29:59", ["2012-07-15 08:30", "2013-07-15 08:30"]),
    ("0 0 0 9 Apr-Oct ?", "2012-07-09 23:35", ["2012-08-09 00:00", "2012-09-09 00:00"]),
    ("0 0 0 29 Feb ?", "2012-07-09 23:35", ["2016-02-29 00:00", "2020-02-29 00:00"]),
    # croniter test_croniter.py test_question_mark
    ("0 0 1 * ?", "2010-08-25 15:56", ["2010-09-01 00:00", "2010-10-01 00:00"]),
    # Quartz habit: a weekday with '?' in day-of-month (numbers are Debian's: 1 is Monday)
    ("0 0 ? * MON", "2026-01-01 00:00", ["2026-01-05 00:00", "2026-01-12 00:00"]),
    ("0 0 ? * 1", "2026-01-01 00:00", ["2026-01-05 00:00", "2026-01-12 00:00"]),
]

NEAREST_WEEKDAY: list[Case] = [
    # dragonmantank/cron-expression CronExpressionTest.php scheduleProvider (July 2011)
    ("0 0 2W * *", "2011-06-30 23:59", ["2011-07-01 00:00", "2011-08-02 00:00"]),
    ("0 0 1W * *", "2011-05-01 00:00", ["2011-05-02 00:00", "2011-06-01 00:00"]),
    ("0 0 1W * *", "2011-06-30 23:59", ["2011-07-01 00:00", "2011-08-01 00:00"]),
    ("0 0 3W * *", "2011-07-01 00:00", ["2011-07-04 00:00", "2011-08-03 00:00"]),
    ("0 0 16W * *", "2011-07-01 00:00", ["2011-07-15 00:00", "2011-08-16 00:00"]),
    ("0 0 28W * *", "2011-07-01 00:00", ["2011-07-28 00:00", "2011-08-29 00:00"]),
    ("0 0 30W * *", "2011-07-01 00:00", ["2011-07-29 00:00", "2011-08-30 00:00"]),
    ("0 0 31W * *", "2011-07-01 00:00", ["2011-07-29 00:00", "2011-08-31 00:00"]),
    # dragonmantank/cron-expression: LW at the end of August 2023
    ("0 10 LW * *", "2023-08-30 10:00", ["2023-08-31 10:00", "2023-09-29 10:00"]),
    # gorhill/cronexpr cronexpr_test.go "work day of month"
    ("0 0 14W * *", "2013-03-31 00:00", ["2013-04-15 00:00"]),
    ("0 0 14W * *", "2013-08-31 00:00", ["2013-09-13 00:00"]),
    ("0 0 30W * *", "2013-03-02 00:00", ["2013-03-29 00:00"]),
    ("0 0 30W * *", "2013-06-02 00:00", ["2013-06-28 00:00"]),
    ("0 0 30W * *", "2013-09-02 00:00", ["2013-09-30 00:00"]),
    ("0 0 30W * *", "2013-11-02 00:00", ["2013-11-29 00:00"]),
    ("0 0 LW * *", "2013-11-02 00:00", ["2013-11-29 00:00"]),
    ("0 0 LW * *", "2014-08-15 00:00", ["2014-08-29 00:00"]),
    # cronsim tests/test_cronsim.py
    ("1 1 LW 5 *", "2020-01-01 00:00", ["2020-05-29 01:01", "2021-05-31 01:01"]),
    # 31W skips the months without a 31st, as plain 31 does; a list of W days (smartcron's own)
    ("0 0 31W * *", "2026-03-31 12:00", ["2026-05-29 00:00", "2026-07-31 00:00"]),
    ("0 0 1W,15W * *", "2026-02-01 00:00", ["2026-02-02 00:00", "2026-02-16 00:00", "2026-03-02 00:00"]),
]

LAST_DAYS: list[Case] = [
    # gorhill/cronexpr cronexpr_test.go "last day of month"; cronsim tests/test_cronsim.py
    ("0 0 L * *", "2016-02-15 00:00", ["2016-02-29 00:00", "2016-03-31 00:00"]),
    ("1 1 L * *", "2020-01-01 00:00", ["2020-01-31 01:01", "2020-02-29 01:01"]),
    # dragonmantank/cron-expression: L OR a weekday range (both restricted) is every day of those months
    ("0 20 L 6,12 0-6", "2022-08-20 03:44:02", ["2022-12-01 20:00", "2022-12-02 20:00", "2022-12-03 20:00"]),
    # Quartz's L-n: n days before the last day
    ("0 0 L-3 * *", "2026-01-01 00:00", ["2026-01-28 00:00", "2026-02-25 00:00", "2026-03-28 00:00"]),
    ("0 0 L-1 2 *", "2027-01-01 00:00", ["2027-02-27 00:00", "2028-02-28 00:00"]),
    ("0 0 1,L-7 * *", "2026-04-01 00:00", ["2026-04-23 00:00", "2026-05-01 00:00", "2026-05-24 00:00"]),
]

LAST_WEEKDAY_OF_MONTH: list[Case] = [
    # dragonmantank/cron-expression CronExpressionTest.php scheduleProvider
    ("* * * * 5L", "2011-07-01 00:00", ["2011-07-29 00:00", "2011-07-29 00:01"]),
    ("* * * * 6L", "2011-07-01 00:00", ["2011-07-30 00:00"]),
    ("* * * * 7L", "2011-07-01 00:00", ["2011-07-31 00:00"]),
    ("* * * * 1L", "2011-07-24 00:00", ["2011-07-25 00:00"]),
    ("* * * 1 5L", "2011-12-25 00:00", ["2012-01-27 00:00"]),
    # cronsim tests/test_cronsim.py: last Friday of each month of 2020, last Sunday two ways
    ("1 1 * * 5L", "2020-01-01 00:00", ["2020-01-31 01:01", "2020-02-28 01:01", "2020-03-27 01:01"]),
    ("1 1 * * 0L", "2020-01-01 00:00", ["2020-01-26 01:01"]),
    ("1 1 * * 7L", "2020-01-01 00:00", ["2020-01-26 01:01"]),
]

NTH_WEEKDAY: list[Case] = [
    # dragonmantank/cron-expression CronExpressionTest.php (scheduleProvider, isDue of # forms)
    ("* * * * 5#2", "2011-07-01 00:00", ["2011-07-08 00:00"]),
    ("* * * * 5#1", "2011-06-30 23:59", ["2011-07-01 00:00"]),
    ("* * * * 3#4", "2011-07-01 00:00", ["2011-07-27 00:00"]),
    ("0 0 * * MON#1", "2014-04-06 00:00", ["2014-04-07 00:00", "2014-05-05 00:00"]),
    ("0 0 * * SAT#2", "2014-04-06 00:00", ["2014-04-12 00:00"]),
    ("0 0 * * SUN#3", "2014-04-06 00:00", ["2014-04-20 00:00"]),
    # gorhill/cronexpr cronexpr_test.go "specific days of week"
    ("0 0 * * 6#5", "2013-09-02 00:00", ["2013-11-30 00:00", "2014-03-29 00:00"]),
    # croniter test_croniter.py testNthWeekDay
    ("0 0 * * sat#1", "2010-02-25 00:00", ["2010-03-06 00:00", "2010-04-03 00:00"]),
    ("0 0 * * wed#5", "2010-01-25 00:00", ["2010-03-31 00:00", "2010-06-30 00:00", "2010-09-29 00:00"]),
    # cronsim tests/test_cronsim.py
    ("1 1 * * 1#2", "2020-01-01 00:00", ["2020-01-13 01:01"]),
    # '#' combined with lists. croniter testPrevNthWeekDay: first Saturday and second Sunday
    ("0 0 * * sat#1,sun#2", "2010-08-01 00:00", ["2010-08-07 00:00", "2010-08-08 00:00", "2010-09-04 00:00"]),
    # croniter test_lwom_mixup_firstlast_sat and test_lwom_mixup_4th_and_last (written 6L, 1L here)
    ("0 0 * * 6#1,6L", "2021-03-01 00:00", ["2021-03-06 00:00", "2021-03-27 00:00", "2021-04-03 00:00"]),
    ("0 0 * * 1#4,1L", "2021-11-01 00:00", ["2021-11-22 00:00", "2021-11-29 00:00", "2021-12-27 00:00"]),
    # croniter refuses a plain weekday beside d#k (test_hash_mixup_all_fri_3rd_sat); smartcron ORs them
    ("0 0 * * 5,6#3", "2021-03-01 00:00", ["2021-03-05 00:00", "2021-03-12 00:00", "2021-03-19 00:00", "2021-03-20"]),
    # cronsim tests/test_cronsim.py: a mix of plain weekdays and 3#1
    ("0 0 * * 1,2,3#1", "2020-01-01 00:00", None),
    ("0 0 * * MON#1,FRI#3", "2026-01-01 00:00", ["2026-01-05 00:00", "2026-01-16 00:00", "2026-02-02 00:00"]),
]

DAY_FIELDS_TOGETHER: list[Case] = [
    # cronsim tests/test_cronsim.py: a '*'-led field makes day-of-month AND day-of-week
    ("1 1 1-7 * */7", "2020-01-01 00:00", ["2020-01-05 01:01", "2020-02-02 01:01", "2020-03-01 01:01"]),
    ("1 1 */100,1-7 * MON", "2020-01-01 00:00", ["2020-01-06 01:01", "2020-02-03 01:01", "2020-03-02 01:01"]),
    ("1 1 * * */3", "2020-01-01 00:00", ["2020-01-01 01:01", "2020-01-04 01:01", "2020-01-05 01:01"]),
    # robfig/cron spec_test.go: both restricted, either matches
    ("* * 1,15 * Sun", "2012-06-14 23:59", ["2012-06-15 00:00", "2012-06-15 00:01"]),
    ("* * */2 * Sun", "2012-07-14 23:59", ["2012-07-15 00:00"]),
    # robfig/cron ORs here (its "#70"); Debian ANDs, as */10 starts with '*'
    ("* * */10 * Sun", "2012-07-14 23:59", None),
    # robfig/cron answers Wed 1 Aug (OR); Debian: the first Monday on a day 1, 6, 11, ... 31
    ("0 0 0 */5 Apr,Aug,Oct Mon", "2012-07-09 23:35", ["2012-08-06 00:00", "2012-10-01 00:00"]),
    # dragonmantank/cron-expression answers 2017-01-10 (OR); Debian ANDs: 31 January, a Tuesday
    ("3-59/15 6-12 */15 1 2-5", "2017-01-08 00:00", ["2017-01-31 06:03", "2017-01-31 06:18"]),
]

RANGES_AND_STEPS: list[Case] = [
    # gorhill/cronexpr cronexpr_test.go
    ("17-43/5 * * * *", "2013-01-01 00:30", ["2013-01-01 00:32", "2013-01-01 00:37", "2013-01-01 00:42"]),
    ("15-30/4,55 * * * *", "2013-01-01 00:16", ["2013-01-01 00:19", "2013-01-01 00:23"]),
    ("15-30/4,55 * * * *", "2013-01-01 00:30", ["2013-01-01 00:55", "2013-01-01 01:15"]),
    ("0 0 * * 6,7", "2013-01-01 00:00", ["2013-01-05 00:00", "2013-01-06 00:00"]),
    ("*/5 * * * * *", "2013-01-01 00:00:59", ["2013-01-01 00:01:00", "2013-01-01 00:01:05"]),
    # dragonmantank/cron-expression CronExpressionTest.php scheduleProvider
    ("0-59/59 10 * * *", "2021-08-25 09:00", ["2021-08-25 10:00", "2021-08-25 10:59"]),
    ("0-59/65 10 * * *", "2021-08-25 10:01", ["2021-08-26 10:00"]),
    ("41-59/24 5 * * *", "2021-08-25 10:00", ["2021-08-26 05:41"]),
    ("4-59/3 * * * *", "2011-06-20 12:06", ["2011-06-20 12:07", "2011-06-20 12:10"]),
    ("0 0 * * 0-4", "2011-06-15 23:09", ["2011-06-16 00:00"]),
    # the 1st or a Sunday, of January only
    ("0 0 1 1 0", "2011-06-15 23:09", ["2012-01-01 00:00", "2012-01-08 00:00"]),
    # robfig/cron spec_test.go
    ("0 20-35/15 * * * *", "2012-07-09 15:45", ["2012-07-09 16:20", "2012-07-09 16:35"]),
]

ALL_CASES: list[Case] = (
    ONE_VALUE_RANGES
    + STEP_WITHOUT_RANGE
    + QUESTION_MARK
    + NEAREST_WEEKDAY
    + LAST_DAYS
    + LAST_WEEKDAY_OF_MONTH
    + NTH_WEEKDAY
    + DAY_FIELDS_TOGETHER
    + RANGES_AND_STEPS
)

# Inputs other libraries accept that smartcron refuses, each with what the one line must say:
# the field, the term and what to write instead.
REFUSED: list[tuple[str, str]] = [
    # gorhill/cronexpr and croniter: a seventh, year field
    ("0 0 * * * * 2026", "got 7: a year field is not supported; drop it, and disable the task"),
    ("0 0 1 1 ? 0 2020-2024", "got 7: a year field is not supported"),
    # Quartz habits carried to five fields: a year where smartcron reads a sixth field as seconds
    (
        "0 0 1 1 * 2027",
        "6 fields are read seconds first, but the last, '2027', is a year: a year field is not supported",
    ),
    ("0 12 * * ? 2026,2027", "the last, '2026,2027', is a year"),
    # dragonmantank/cron-expression: wrap-around weekday ranges (7-4, 7-3)
    ("0 0 * * FRI-MON", "day-of-week field: range FRI-MON goes backwards; write FRI,SAT,SUN,MON"),
    ("0 0 * * 7-4", "day-of-week field: range 7-4 goes backwards; write 0-4"),
    ("0 0 * * 5-1", "day-of-week field: range 5-1 goes backwards; write 5-6,0-1"),
    ("0 22-2 * * *", "hour field: range 22-2 goes backwards; write 22-23,0-2"),
    ("0 0 * NOV-FEB *", "month field: range NOV-FEB goes backwards; write NOV,DEC,JAN,FEB"),
    # gorhill/cronexpr: full day and month names
    ("0 0 * * friday", "day-of-week field: 'friday' is not a day name; write FRI"),
    ("0 0 * * MONDAY", "day-of-week field: 'MONDAY' is not a day name; write MON"),
    ("0 0 1 January *", "month field: 'January' is not a month name; write JAN"),
    # croniter test_issue_k33: a weekday range with '#'
    ("30 23 1-7 JAN MON-FRI#1", "day-of-week field: 'MON-FRI#1' is not valid; '#' takes one weekday, so list"),
    ("0 0 * * MON-FRI#1", "list them: MON#1,TUE#1,WED#1,THU#1,FRI#1"),
    # cronsim accepts L and LW with a step (and ignores the step)
    ("* * L/2 * *", "day-of-month field: 'L/2' is not valid; a step cannot follow L or LW"),
    ("* * LW/2 * *", "day-of-month field: 'LW/2' is not valid; a step cannot follow L or LW"),
    # L inside a range, L in the wrong field, L-n where it has no meaning
    ("0 0 1-L * *", "day-of-month field: '1-L' is not valid; L stands alone (the last day), or as LW or L-3"),
    ("0 0 * * L-3", "day-of-week field: 'L-3' is day-of-month syntax (L-3, 15W, LW)"),
    ("0 L * * *", "hour field: 'L' is not valid here; L (last) is only for day-of-month"),
    ("0 0 5L * *", "day-of-month field: '5L' is day-of-week syntax (5L: the last Friday"),
    ("0 0 L-31 * *", "day-of-month field: in 'L-31' the days before the last must be 0-30"),
    # croniter's L1 and cronsim's MONL for the last Monday
    ("0 0 * * L1", "day-of-week field: 'L1' is not valid; the last such weekday of the month is written 1L"),
    ("0 0 * * MONL", "day-of-week field: 'MONL' is not valid; the last MON of the month is written 1L"),
    ("0 0 * * L", "day-of-week field: 'L' is not valid; the last given weekday of the month is written like 5L"),
    # W with a range, W outside day-of-month
    ("0 0 1-15W * *", "day-of-month field: '1-15W' is not valid; W takes one day (15W), so list them: 1W,15W"),
    ("0 0 * * 15W", "day-of-week field: '15W' is day-of-month syntax"),
    ("0 0 30W 2 *", "never fires: day 30 does not exist in February"),
    # '?' where it means nothing (croniter test_invalid_question_mark, dragonmantank isValidExpression)
    ("? * * * *", "minute field: '?' (no particular value) is only for day-of-month and day-of-week; write *"),
    ("* * ?,* * *", "day-of-month field: '?' stands alone in its field; write * or a list without it"),
    ("0 0 * ? *", "month field: '?' (no particular value) is only for day-of-month and day-of-week"),
    # croniter test_nth_out_of_range; cronsim test_it_rejects_big_nth
    ("0 0 * * 1#7", "day-of-week field: in '1#7' the week of the month must be 1-5"),
    ("0 0 * * 1#0", "day-of-week field: in '1#0' the week of the month must be 1-5"),
    ("0 0 * 1#2 *", "month field: '1#2' is not valid here; it is day-of-week syntax"),
    # croniter test_hash: H needs a name; a backwards H range
    ("H H * * *", "minute field: 'H' picks its value from the task name, and there is no task here"),
    ("/2 * * * *", "minute field: '/2' has nothing before the step; write */2"),
    # robfig/cron's @every
    ("@every 5m", "'@every 5m' is not cron syntax; write a step such as '*/5 * * * *'"),
]
