-- B, "the limit" of issue 6: the marts of spec §8 computed by one hand-written DuckDB script straight
-- from the delivery CSVs, with no Dagster, no dbt and no pandera. It is what the engine itself costs;
-- the pipeline (A) is compared with it.
--
-- Run from the data folder (relative paths): landing/ssm_survey_<YYYY>*.csv (v2 choice-text exports,
-- one file per year) and reference/class_sizes.csv. bench/limit.py runs it and times each stage (the
-- `-- stage:` lines). It writes the marts into the database it is connected to, schema main; the
-- row-level work tables are temporary. limit.py first writes the table `checksums` (delivery,
-- source_sha256): the SHA-256 of each file by hashlib, as the pipeline and C compute it (DuckDB's
-- sha256() took 1.0-2.0 s for the 326 MB of the consortium files, hashlib 0.25-0.5 s).
--
-- What it does like the pipeline: the §5 buckets in order (preview, incomplete, no consent, duplicate
-- keeping the latest RecordedDate with the later row winning a tie, no ResponseId), the v2 labels
-- decoded case-insensitively, ages and mentee counts that are not whole numbers or out of range set
-- to missing, answers off the mentor branch set to missing, the multi-select reasons split on the
-- labels (label 1 contains commas), the §7 cohorts, every §8 figure that is arithmetic, and the
-- data-quality issues.
--
-- How (issue 15; bench/PROFILE.md): one pass over the files. Each row is decoded as it is read into a
-- narrow table of codes and flags; a cell is kept as text only when it is a data-quality issue (a few
-- thousand of a million), so nothing is parsed twice and no column of strings is copied from table to
-- table. Duplicates are looked for only among the ResponseIds that occur more than once (a grouping,
-- then a window over those few rows), and the row-level tables are never written to disk: only the
-- marts are.
--
-- What SQL does not do here, so B leaves it out:
--   * p-values: Fisher's exact test (cohort_comparisons.p_value, metric_trends.p_value_vs_prior,
--     demographic_balance for gender), the chi-square and t distributions (demographic_balance) and the
--     normal tail of the trend test (metric_trend_tests.p_value) need scipy; they are null here. The
--     statistics themselves (chi-square, Welch's t, the trend z) and every SMD are computed.
--   * the refusals of a whole file (header checks, mislabelled year, undecodable bytes), rows with the
--     wrong number of fields (the synthetic deliveries have none), v1 and Excel deliveries, a later file
--     superseding an earlier one for the same year, hashing ResponseIds with the salt, masking phone
--     numbers in the issues' original values (RE2 has no look-around; e-mail addresses are masked), and
--     the checks of reference/class_sizes.csv (B reads the benchmark's file, which has no bad row).

-- stage: read
-- Decoding: an exact label is matched first (what an export holds), then the same labels
-- case-insensitively after trimming, as the pipeline reads them.
create or replace macro likert(cell) as case cell
    when 'Strongly disagree' then 1 when 'Somewhat disagree' then 2 when 'Neither agree nor disagree' then 3
    when 'Somewhat agree' then 4 when 'Strongly agree' then 5
    else case lower(trim(cell))
        when 'strongly disagree' then 1 when 'somewhat disagree' then 2
        when 'neither agree nor disagree' then 3 when 'somewhat agree' then 4 when 'strongly agree' then 5
    end
end;
create or replace macro yes_no(cell) as case cell
    when 'Yes' then 'yes' when 'No' then 'no'
    else case lower(trim(cell)) when 'yes' then 'yes' when 'no' then 'no' end
end;
create or replace macro whole_number(cell) as
    case when regexp_full_match(trim(cell), '[+-]?[0-9]+') then try_cast(trim(cell) as integer) end;
-- A multi-select cell holds the chosen labels joined by a bare comma; a label is chosen when it stands
-- between two separators (or the ends of the cell). `padded` is the cell folded and wrapped in commas.
create or replace macro ticked(padded, label) as contains(padded, ',' || lower(label) || ',');
-- The text of a cell that is a data-quality issue (null when it is empty).
create or replace macro issue_text(cell) as nullif(trim(cell), '');

create or replace table specialty_codes as
select * from (values
    (1, 'Anesthesiology', 'other'), (2, 'Dermatology', 'other'), (3, 'Emergency Medicine', 'other'),
    (4, 'Family Medicine', 'primary_care'), (5, 'Internal Medicine', 'primary_care'),
    (6, 'Neurology', 'other'), (7, 'Obstetrics and Gynecology', 'surgical'),
    (8, 'Orthopaedic Surgery', 'surgical'), (9, 'Pathology', 'other'), (10, 'Pediatrics', 'primary_care'),
    (11, 'Psychiatry', 'other'), (12, 'Radiology', 'other'), (13, 'General Surgery', 'surgical'),
    (14, 'Surgical subspecialty (e.g., ENT, Urology, Neurosurgery)', 'surgical'),
    (15, 'Internal Medicine/Pediatrics', 'primary_care'),
    (16, 'Did not match / not applicable', 'not_matched'), (17, 'Other (please specify)', 'other')
) as s (specialty_code, specialty_label, specialty_group);

create or replace table reason_codes as
select * from (values
    (1, 'Not enough time (clinical, research, or personal commitments)'),
    (2, 'Was not aware of the program'), (3, 'Not interested in mentoring'),
    (4, 'Did not feel qualified to mentor'), (5, 'Applied but was not selected'),
    (6, 'Other (please specify)')
) as r (reason_code, reason_label);

-- Every raw row, in the files' order (so rowid follows it), as codes and flags: the §5 flags, the
-- answers decoded, and the text of each cell that is a data-quality issue (null for the others).
-- Only the columns the marts need are read (the identifying ones never are).
create or replace temp table cells as
with raw as (
    select
        filename,
        Status, DistributionChannel, Finished, Progress, consent, RecordedDate, ResponseId,
        gender as gender_text, age as age_text, specialty as specialty_text,
        mentor_formal as mentor_formal_text, mentor_informal as mentor_informal_text,
        had_student_mentor as had_student_mentor_text, SSM_value_1, SSM_value_2, SSM_value_3,
        mentor_again as mentor_again_text, mentor_worthwhile as mentor_worthwhile_text,
        mentees_count as mentees_count_text, nonpart_reasons, nonpart_reasons_6_TEXT
    from read_csv(
        'landing/ssm_survey_*.csv',
        skip = 3,                -- the three header rows of a v2 export (none of them spans lines)
        header = false,
        auto_detect = false,     -- the layout is known: no sniffing of 20 files
        delim = ',',
        quote = '"',
        escape = '"',
        filename = true,
        columns = {
            'StartDate': 'VARCHAR', 'EndDate': 'VARCHAR', 'Status': 'VARCHAR', 'IPAddress': 'VARCHAR',
            'Progress': 'VARCHAR', 'Duration (in seconds)': 'VARCHAR', 'Finished': 'VARCHAR',
            'RecordedDate': 'VARCHAR', 'ResponseId': 'VARCHAR', 'RecipientLastName': 'VARCHAR',
            'RecipientFirstName': 'VARCHAR', 'RecipientEmail': 'VARCHAR', 'ExternalReference': 'VARCHAR',
            'LocationLatitude': 'VARCHAR', 'LocationLongitude': 'VARCHAR', 'DistributionChannel': 'VARCHAR',
            'UserLanguage': 'VARCHAR', 'consent': 'VARCHAR', 'gender': 'VARCHAR', 'gender_4_TEXT': 'VARCHAR',
            'age': 'VARCHAR', 'specialty': 'VARCHAR', 'specialty_17_TEXT': 'VARCHAR',
            'mentor_formal': 'VARCHAR', 'mentor_informal': 'VARCHAR', 'had_student_mentor': 'VARCHAR',
            'SSM_value_1': 'VARCHAR', 'SSM_value_2': 'VARCHAR', 'SSM_value_3': 'VARCHAR',
            'mentor_again': 'VARCHAR', 'mentor_worthwhile': 'VARCHAR', 'mentees_count': 'VARCHAR',
            'nonpart_reasons': 'VARCHAR', 'nonpart_reasons_6_TEXT': 'VARCHAR', 'comments': 'VARCHAR'
        }
    )
),
decoded as (
    select
        cast(regexp_extract(filename, 'ssm_survey_(\d{4})', 1) as integer) as survey_year,
        case Status
            when 'IP Address' then false
            when 'Survey Preview' then true when 'Survey Test' then true when 'Spam' then true
            else coalesce(lower(trim(Status)) in ('survey preview', 'survey test', 'spam'), false)
        end
        or case DistributionChannel
            when 'anonymous' then false when 'preview' then true when 'test' then true
            else coalesce(lower(trim(DistributionChannel)) in ('preview', 'test'), false)
        end as is_preview,
        case Finished when 'True' then true when 'False' then false
            else coalesce(lower(trim(Finished)) = 'true', false)
        end
        and case Progress when '100' then true
            else coalesce(try_cast(trim(Progress) as double) >= 100, false)
        end as is_finished,
        coalesce(yes_no(consent) = 'yes', false) as consented,
        RecordedDate,
        coalesce(trim(ResponseId), '') as response_id,
        case gender_text
            when 'Woman' then 'female' when 'Man' then 'male' when 'Non-binary' then 'nonbinary_or_other'
            when 'Prefer to self-describe' then 'nonbinary_or_other' when 'Prefer not to answer' then 'not_reported'
            else case lower(trim(gender_text))
                when 'woman' then 'female' when 'man' then 'male' when 'non-binary' then 'nonbinary_or_other'
                when 'prefer to self-describe' then 'nonbinary_or_other'
                when 'prefer not to answer' then 'not_reported'
            end
        end as gender,
        gender_text,
        whole_number(age_text) as age_number,
        age_text,
        specialty_text,
        yes_no(mentor_formal_text) as mentor_formal,
        mentor_formal_text,
        yes_no(mentor_informal_text) as mentor_informal,
        mentor_informal_text,
        case had_student_mentor_text
            when 'Yes' then 'yes' when 'No' then 'no' when 'Not sure' then 'not_sure'
            else case lower(trim(had_student_mentor_text))
                when 'yes' then 'yes' when 'no' then 'no' when 'not sure' then 'not_sure'
            end
        end as had_student_mentor,
        had_student_mentor_text,
        likert(SSM_value_1) as value_distinct,
        SSM_value_1,
        likert(SSM_value_2) as value_mentee,
        SSM_value_2,
        likert(SSM_value_3) as value_mentor,
        SSM_value_3,
        case mentor_again_text
            when 'Yes' then 'yes' when 'No' then 'no' when 'Unsure' then 'unsure'
            else case lower(trim(mentor_again_text))
                when 'yes' then 'yes' when 'no' then 'no' when 'unsure' then 'unsure'
            end
        end as mentor_again_answer,
        mentor_again_text,
        likert(mentor_worthwhile_text) as mentor_worthwhile_answer,
        mentor_worthwhile_text,
        whole_number(mentees_count_text) as mentees_number,
        mentees_count_text,
        ',' || lower(trim(coalesce(nonpart_reasons, ''))) || ',' as reasons_padded,
        nonpart_reasons,
        nonpart_reasons_6_TEXT
    from raw
)
select
    d.survey_year,
    -- §5 rules 1-3 and 5 row by row; rule 4 (duplicates) needs every row, so stage buckets sets it
    d.is_preview,
    d.is_finished,
    d.consented,
    false as is_duplicate,
    d.response_id,
    -- parsed only for the few rows the duplicate rule has to order (stage buckets)
    d.RecordedDate as recorded_text,
    -- the answers as the warehouse holds them, and the cohort (spec §7)
    d.gender,
    case when d.age_number between 20 and 65 then d.age_number end as age,
    s.specialty_code as specialty,
    s.specialty_group,
    d.mentor_formal,
    d.mentor_informal,
    d.had_student_mentor,
    d.value_distinct,
    d.value_mentee,
    d.value_mentor,
    -- shown only to formal mentors; anything else is off the branch and missing
    case when d.mentor_formal = 'yes' then d.mentor_again_answer end as mentor_again,
    case when d.mentor_formal = 'yes' then d.mentor_worthwhile_answer end as mentor_worthwhile,
    case when d.mentor_formal = 'yes' and d.mentees_number between 0 and 20 then d.mentees_number end as mentees_count,
    -- shown only to mentor_formal = no; missing (not "no") for everyone else
    case when d.mentor_formal = 'no' then d.reason_1 end as nonpart_reason_1,
    case when d.mentor_formal = 'no' then d.reason_2 end as nonpart_reason_2,
    case when d.mentor_formal = 'no' then d.reason_3 end as nonpart_reason_3,
    case when d.mentor_formal = 'no' then d.reason_4 end as nonpart_reason_4,
    case when d.mentor_formal = 'no' then d.reason_5 end as nonpart_reason_5,
    case when d.mentor_formal = 'no' then d.reason_6 end as nonpart_reason_6,
    case
        when d.mentor_formal = 'yes' then 'mentor'
        when d.mentor_formal = 'no' and d.mentor_informal = 'no' then 'non_mentor'
        when d.mentor_formal = 'no' and d.mentor_informal = 'yes' then 'informal'
        else 'unclassified'
    end as cohort,
    -- the cells that are data-quality issues (spec §5) as text, null for every other cell, and what
    -- names their rule
    d.age_number,
    d.mentees_number,
    d.mentor_again_answer,
    d.mentor_worthwhile_answer,
    case when d.age_number is null or d.age_number not between 20 and 65 then issue_text(d.age_text) end as age_cell,
    case when s.specialty_code is null then issue_text(d.specialty_text) end as specialty_cell,
    case when d.gender is null then issue_text(d.gender_text) end as gender_cell,
    case when d.mentor_formal is null then issue_text(d.mentor_formal_text) end as mentor_formal_cell,
    case when d.mentor_informal is null then issue_text(d.mentor_informal_text) end as mentor_informal_cell,
    case when d.had_student_mentor is null then issue_text(d.had_student_mentor_text) end as had_student_mentor_cell,
    case when d.value_distinct is null then issue_text(d.SSM_value_1) end as value_1_cell,
    case when d.value_mentee is null then issue_text(d.SSM_value_2) end as value_2_cell,
    case when d.value_mentor is null then issue_text(d.SSM_value_3) end as value_3_cell,
    case when d.mentor_again_answer is null or d.mentor_formal is distinct from 'yes'
        then issue_text(d.mentor_again_text) end as mentor_again_cell,
    case when d.mentor_worthwhile_answer is null or d.mentor_formal is distinct from 'yes'
        then issue_text(d.mentor_worthwhile_text) end as mentor_worthwhile_cell,
    case when d.mentees_number is null or d.mentees_number not between 0 and 20 or d.mentor_formal is distinct from 'yes'
        then issue_text(d.mentees_count_text) end as mentees_count_cell,
    case when (d.reason_1 or d.reason_2 or d.reason_3 or d.reason_4 or d.reason_5 or d.reason_6)
        and d.mentor_formal is distinct from 'no' then trim(d.nonpart_reasons) end as reasons_cell,
    case when d.mentor_formal is distinct from 'no' then issue_text(d.nonpart_reasons_6_TEXT) end as reasons_text_cell
from (
    select
        *,
        coalesce(ticked(reasons_padded, 'Not enough time (clinical, research, or personal commitments)'), false) as reason_1,
        coalesce(ticked(reasons_padded, 'Was not aware of the program'), false) as reason_2,
        coalesce(ticked(reasons_padded, 'Not interested in mentoring'), false) as reason_3,
        coalesce(ticked(reasons_padded, 'Did not feel qualified to mentor'), false) as reason_4,
        coalesce(ticked(reasons_padded, 'Applied but was not selected'), false) as reason_5,
        coalesce(ticked(reasons_padded, 'Other (please specify)'), false) as reason_6
    from decoded
) as d
left join specialty_codes as s on lower(trim(d.specialty_text)) = lower(s.specialty_label);

-- stage: buckets
-- Rule 4 (duplicates) among the rows that passed rules 1-3: every copy of a ResponseId but the one
-- recorded last (the later row wins a tie). Only ResponseIds seen more than once need ordering.
update cells set is_duplicate = true
where rowid in (
    with candidates as (
        select rowid as position, survey_year, response_id, recorded_text
        from cells
        where not is_preview and is_finished and consented and response_id <> ''
    ),
    repeated as (
        select survey_year, response_id from candidates group by all having count(*) > 1
    )
    select position
    from (
        select
            c.position,
            row_number() over (
                partition by c.survey_year, c.response_id
                order by try_strptime(trim(c.recorded_text), '%Y-%m-%d %H:%M:%S') desc nulls last,
                    c.position desc
            ) as newest_first
        from candidates as c
        semi join repeated as r using (survey_year, response_id)
    )
    where newest_first > 1
);

-- Every raw row's bucket, in the §5 order, counted per year.
create or replace temp table bucket_counts as
with bucketed as (
    select
        survey_year,
        case
            when is_preview then 'preview'
            when not is_finished then 'incomplete'
            when not consented then 'no_consent'
            when is_duplicate then 'duplicate'
            when response_id = '' then 'rejected'
            else 'respondent'
        end as bucket
    from cells
)
select
    survey_year,
    count(*) as received,
    count(*) filter (where bucket = 'preview') as preview,
    count(*) filter (where bucket = 'incomplete') as incomplete,
    count(*) filter (where bucket = 'no_consent') as no_consent,
    count(*) filter (where bucket = 'duplicate') as duplicate,
    count(*) filter (where bucket = 'rejected') as rejected,
    count(*) filter (where bucket = 'respondent') as respondents
from bucketed
group by survey_year;

-- Row numbers as a spreadsheet shows them: three header rows, then one row per CSV record, so a
-- row's number is its position minus its file's first position, plus 4.
create or replace table deliveries as
select f.survey_year, k.delivery, k.source_sha256, f.first_position
from (select survey_year, min(rowid) as first_position from cells group by survey_year) as f
join checksums as k on cast(regexp_extract(k.delivery, 'ssm_survey_(\d{4})', 1) as integer) = f.survey_year;

create or replace table class_sizes as
select survey_year, class_size
from read_csv('reference/class_sizes.csv', header = true,
              columns = {'survey_year': 'INTEGER', 'class_size': 'INTEGER'});

-- The respondents: the rows in no other bucket.
create or replace temp view respondents as
select rowid as position, response_id as respondent_key, *
from cells
where not is_preview and is_finished and consented and not is_duplicate and response_id <> '';

-- stage: marts
create or replace table response_funnel as
with cohorts as (
    select
        survey_year,
        count(*) filter (where cohort = 'mentor') as mentors,
        count(*) filter (where cohort = 'non_mentor') as non_mentors,
        count(*) filter (where cohort = 'informal') as informal,
        count(*) filter (where cohort = 'unclassified') as unclassified
    from respondents
    group by survey_year
)
select
    b.survey_year,
    -- a class size below the year's respondents cannot be true: not used (as the pipeline does)
    case when cs.class_size >= b.respondents then cs.class_size end as class_size,
    b.received, b.preview, b.incomplete, b.no_consent, b.duplicate, b.rejected, b.respondents,
    case when cs.class_size >= b.respondents and cs.class_size > 0 then b.respondents::double / cs.class_size
    end as response_rate,
    coalesce(c.mentors, 0) as mentors,
    coalesce(c.non_mentors, 0) as non_mentors,
    coalesce(c.informal, 0) as informal,
    coalesce(c.unclassified, 0) as unclassified,
    'v2' as instrument_version,
    d.source_sha256
from bucket_counts as b
join deliveries as d using (survey_year)
left join cohorts as c using (survey_year)
left join class_sizes as cs using (survey_year)
order by b.survey_year;

create or replace table cohort_mentors as
select respondent_key, survey_year, gender, age, specialty, specialty_group, mentor_formal,
    mentor_informal, had_student_mentor, value_distinct, value_mentee, value_mentor, mentor_again,
    mentor_worthwhile, mentees_count, nonpart_reason_1, nonpart_reason_2, nonpart_reason_3,
    nonpart_reason_4, nonpart_reason_5, nonpart_reason_6
from respondents where cohort = 'mentor';

create or replace table cohort_non_mentors as
select respondent_key, survey_year, gender, age, specialty, specialty_group, mentor_formal,
    mentor_informal, had_student_mentor, value_distinct, value_mentee, value_mentor, mentor_again,
    mentor_worthwhile, mentees_count, nonpart_reason_1, nonpart_reason_2, nonpart_reason_3,
    nonpart_reason_4, nonpart_reason_5, nonpart_reason_6
from respondents where cohort = 'non_mentor';

-- Wilson score interval without continuity correction, z = 1.959963984540054, clamped to [0, 1] and
-- around the proportion as the pipeline's macro does.
create or replace macro wilson(x, n, sign) as
    (x::double / n + 1.959963984540054 ^ 2 / (2.0 * n)
     + sign * 1.959963984540054 * sqrt((x::double / n) * (1 - x::double / n) / n
                                       + 1.959963984540054 ^ 2 / (4.0 * n::double * n)))
    / (1 + 1.959963984540054 ^ 2 / n);

create or replace table metric_summary as
with answers as (
    select survey_year, cohort, 'value_distinct' as metric_id, value_distinct >= 4 as is_yes
    from respondents where value_distinct is not null
    union all
    select survey_year, cohort, 'value_mentee', value_mentee >= 4 from respondents where value_mentee is not null
    union all
    select survey_year, cohort, 'value_mentor', value_mentor >= 4 from respondents where value_mentor is not null
    union all
    select survey_year, cohort, 'mentor_again', mentor_again = 'yes' from respondents where mentor_again is not null
    union all
    select survey_year, cohort, 'mentor_worthwhile', mentor_worthwhile >= 4
    from respondents where mentor_worthwhile is not null
),
by_cohort as (
    select survey_year, metric_id, cohort, count(*) filter (where is_yes) as numerator, count(*) as denominator
    from answers group by all
),
grid as (
    select f.survey_year, m.metric_id, c.cohort
    from response_funnel as f
    cross join (values ('value_distinct'), ('value_mentee'), ('value_mentor'), ('mentor_again'),
                       ('mentor_worthwhile')) as m (metric_id)
    cross join (values ('all'), ('mentor'), ('non_mentor')) as c (cohort)
),
counted as (
    select
        g.survey_year, g.metric_id, g.cohort,
        coalesce(sum(b.numerator), 0)::bigint as numerator,
        coalesce(sum(b.denominator), 0)::bigint as denominator
    from grid as g
    left join by_cohort as b
        on g.survey_year = b.survey_year and g.metric_id = b.metric_id
        and (g.cohort = 'all' or g.cohort = b.cohort)
    group by all
)
select
    survey_year, metric_id, cohort, numerator, denominator,
    case when denominator > 0 then numerator::double / denominator end as proportion,
    case when denominator > 0 then
        greatest(0.0, least(wilson(numerator, denominator, -1), numerator::double / denominator)) end as ci_low,
    case when denominator > 0 then
        least(1.0, greatest(wilson(numerator, denominator, 1), numerator::double / denominator)) end as ci_high
from counted
order by survey_year, metric_id, cohort;

-- 2x2 tables a = mentor yes, b = mentor not yes, c = non-mentor yes, d = non-mentor not yes; 0.5 added
-- to every cell when one is 0 (ratios and intervals only). Katz log interval for the risk ratio,
-- Woolf logit interval for the odds ratio. p_value: Fisher's exact test is not SQL (null here).
create or replace table cohort_comparisons as
with tables as (
    select
        m.survey_year, m.metric_id,
        m.numerator as mentor_yes, m.denominator as mentor_n,
        n.numerator as non_mentor_yes, n.denominator as non_mentor_n
    from metric_summary as m
    join metric_summary as n
        on m.survey_year = n.survey_year and m.metric_id = n.metric_id
        and m.cohort = 'mentor' and n.cohort = 'non_mentor'
    where m.metric_id in ('value_distinct', 'value_mentee', 'value_mentor')
),
cells as (
    select
        *,
        mentor_n > 0 and non_mentor_n > 0 as defined,
        mentor_n > 0 and non_mentor_n > 0 and least(mentor_yes, mentor_n - mentor_yes, non_mentor_yes,
            non_mentor_n - non_mentor_yes) = 0 as corrected
    from tables
),
shifted as (
    select
        *,
        mentor_yes + case when corrected then 0.5 else 0 end as a,
        mentor_n - mentor_yes + case when corrected then 0.5 else 0 end as b,
        non_mentor_yes + case when corrected then 0.5 else 0 end as c,
        non_mentor_n - non_mentor_yes + case when corrected then 0.5 else 0 end as d
    from cells
),
logs as (
    select
        *,
        case when defined then ln(a / (a + b)) - ln(c / (c + d)) end as log_rr,
        case when defined then sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)) end as se_rr,
        case when defined then ln(a) + ln(d) - ln(b) - ln(c) end as log_or,
        case when defined then sqrt(1 / a + 1 / b + 1 / c + 1 / d) end as se_or
    from shifted
)
select
    survey_year, metric_id, mentor_yes, mentor_n, non_mentor_yes, non_mentor_n,
    case when defined then (a / (a + b)) / (c / (c + d)) end as risk_ratio,
    exp(log_rr - 1.959963984540054 * se_rr) as rr_ci_low,
    exp(log_rr + 1.959963984540054 * se_rr) as rr_ci_high,
    case when defined then (a * d) / (b * c) end as odds_ratio,
    exp(log_or - 1.959963984540054 * se_or) as or_ci_low,
    exp(log_or + 1.959963984540054 * se_or) as or_ci_high,
    null::double as p_value,
    coalesce(corrected, false) as zero_cell_corrected
from logs
order by survey_year, metric_id;

create or replace table demographics_by_cohort as
with compared as (
    select * from respondents where cohort in ('mentor', 'non_mentor')
),
levels as (
    select * from (values
        ('gender', 'female'), ('gender', 'male'), ('gender', 'nonbinary_or_other'), ('gender', 'not_reported'),
        ('specialty_group', 'primary_care'), ('specialty_group', 'surgical'), ('specialty_group', 'other'),
        ('specialty_group', 'not_matched')
    ) as l (characteristic, level)
),
cohorts as (select * from (values ('mentor'), ('non_mentor')) as c (cohort)),
answers as (
    select survey_year, cohort, 'gender' as characteristic, gender as level from compared where gender is not null
    union all
    select survey_year, cohort, 'specialty_group', specialty_group from compared where specialty_group is not null
),
counted as (
    select survey_year, cohort, characteristic, level, count(*) as n from answers group by all
),
categorical as (
    select f.survey_year, l.characteristic, l.level, c.cohort, coalesce(k.n, 0) as n
    from response_funnel as f
    cross join levels as l
    cross join cohorts as c
    left join counted as k
        on k.survey_year = f.survey_year and k.cohort = c.cohort
        and k.characteristic = l.characteristic and k.level = l.level
),
ages as (
    select f.survey_year, c.cohort, count(r.age) as n, avg(r.age) as age_mean, stddev_samp(r.age) as age_sd
    from response_funnel as f
    cross join cohorts as c
    left join compared as r on r.survey_year = f.survey_year and r.cohort = c.cohort
    group by all
)
select
    survey_year, characteristic, level, cohort, n,
    case when sum(n) over (partition by survey_year, characteristic, cohort) > 0
        then n::double / sum(n) over (partition by survey_year, characteristic, cohort) end as proportion,
    null::double as value
from categorical
union all
select survey_year, 'age', 'mean', cohort, n, null::double, age_mean from ages
union all
select survey_year, 'age', 'sd', cohort, n, null::double, age_sd from ages
order by survey_year, characteristic, level, cohort;

-- Tests and SMDs of the compared cohorts (mentors first). Statistics and SMDs only: the p-values of
-- Fisher's exact test, the chi-square and the t distribution are not SQL (null here). Assumes every
-- tested level occurs (true at the benchmark's sizes); the pipeline also handles empty levels.
create or replace table demographic_balance as
with compared as (
    select * from respondents where cohort in ('mentor', 'non_mentor')
),
gender as (
    select
        survey_year,
        count(*) filter (where cohort = 'mentor' and gender = 'female') as f1,
        count(*) filter (where cohort = 'mentor' and gender in ('female', 'male')) as n1,
        count(*) filter (where cohort = 'non_mentor' and gender = 'female') as f2,
        count(*) filter (where cohort = 'non_mentor' and gender in ('female', 'male')) as n2
    from compared group by survey_year
),
gender_rows as (
    select
        survey_year, 'gender' as characteristic, 'fisher_exact' as test, null::double as statistic,
        null::double as p_value,
        case when n1 > 0 and n2 > 0 then
            (f1::double / n1 - f2::double / n2)
            / nullif(sqrt((f1::double / n1 * (1 - f1::double / n1) + f2::double / n2 * (1 - f2::double / n2)) / 2), 0)
        end as smd
    from gender
),
age as (
    select
        survey_year,
        count(age) filter (where cohort = 'mentor') as n1,
        avg(age) filter (where cohort = 'mentor') as m1,
        var_samp(age) filter (where cohort = 'mentor') as v1,
        count(age) filter (where cohort = 'non_mentor') as n2,
        avg(age) filter (where cohort = 'non_mentor') as m2,
        var_samp(age) filter (where cohort = 'non_mentor') as v2
    from compared group by survey_year
),
age_rows as (
    select
        survey_year, 'age', 'welch_t',
        case when n1 >= 2 and n2 >= 2 then (m1 - m2) / nullif(sqrt(v1 / n1 + v2 / n2), 0) end,
        null::double,
        case when n1 >= 2 and n2 >= 2 then (m1 - m2) / nullif(sqrt((v1 + v2) / 2), 0) end
    from age
),
groups as (
    select
        survey_year,
        count(*) filter (where cohort = 'mentor' and specialty_group = 'primary_care') as m_pc,
        count(*) filter (where cohort = 'mentor' and specialty_group = 'surgical') as m_su,
        count(*) filter (where cohort = 'mentor' and specialty_group = 'other') as m_ot,
        count(*) filter (where cohort = 'non_mentor' and specialty_group = 'primary_care') as n_pc,
        count(*) filter (where cohort = 'non_mentor' and specialty_group = 'surgical') as n_su,
        count(*) filter (where cohort = 'non_mentor' and specialty_group = 'other') as n_ot
    from compared group by survey_year
),
group_shares as (
    select
        *,
        (m_pc + m_su + m_ot)::double as m_n,
        (n_pc + n_su + n_ot)::double as n_n,
        (m_pc + m_su + m_ot + n_pc + n_su + n_ot)::double as total
    from groups
),
group_stats as (
    select
        *,
        -- Pearson's chi-square (no continuity correction) on the 2x3 table
        (m_pc - m_n * (m_pc + n_pc) / total) ^ 2 / (m_n * (m_pc + n_pc) / total)
        + (m_su - m_n * (m_su + n_su) / total) ^ 2 / (m_n * (m_su + n_su) / total)
        + (m_ot - m_n * (m_ot + n_ot) / total) ^ 2 / (m_n * (m_ot + n_ot) / total)
        + (n_pc - n_n * (m_pc + n_pc) / total) ^ 2 / (n_n * (m_pc + n_pc) / total)
        + (n_su - n_n * (m_su + n_su) / total) ^ 2 / (n_n * (m_su + n_su) / total)
        + (n_ot - n_n * (m_ot + n_ot) / total) ^ 2 / (n_n * (m_ot + n_ot) / total) as chi_square,
        -- Yang and Dalton's SMD with the first level dropped: p = (surgical, other) shares
        m_su / m_n as p1s, m_ot / m_n as p1o, n_su / n_n as p2s, n_ot / n_n as p2o
    from group_shares
),
group_smd as (
    select
        *,
        (p1s * (1 - p1s) + p2s * (1 - p2s)) / 2 as s11,
        (-p1s * p1o - p2s * p2o) / 2 as s12,
        (p1o * (1 - p1o) + p2o * (1 - p2o)) / 2 as s22,
        p1s - p2s as ds,
        p1o - p2o as do_
    from group_stats
),
group_rows as (
    select
        survey_year, 'specialty_group', 'chi_square', chi_square, null::double,
        sqrt(greatest(0.0, (s22 * ds * ds - 2 * s12 * ds * do_ + s11 * do_ * do_) / nullif(s11 * s22 - s12 * s12, 0)))
    from group_smd
)
select * from gender_rows
union all
select * from age_rows
union all
select * from group_rows
order by survey_year, characteristic;

create or replace table nonparticipation_reasons as
with non_mentors as (
    select * from respondents where cohort = 'non_mentor'
),
ticks as (
    unpivot (select survey_year, nonpart_reason_1, nonpart_reason_2, nonpart_reason_3, nonpart_reason_4,
                    nonpart_reason_5, nonpart_reason_6 from non_mentors)
    on nonpart_reason_1, nonpart_reason_2, nonpart_reason_3, nonpart_reason_4, nonpart_reason_5, nonpart_reason_6
    into name reason_column value is_ticked
),
counted as (
    select survey_year, replace(reason_column, 'nonpart_reason_', '')::integer as reason_code,
        count(*) filter (where is_ticked) as n
    from ticks group by all
),
denominators as (
    select survey_year,
        count(*) filter (where nonpart_reason_1 or nonpart_reason_2 or nonpart_reason_3 or nonpart_reason_4
                         or nonpart_reason_5 or nonpart_reason_6) as denominator
    from non_mentors group by survey_year
)
select
    f.survey_year, r.reason_code, r.reason_label,
    coalesce(c.n, 0) as n,
    coalesce(d.denominator, 0) as denominator,
    case when d.denominator > 0 then coalesce(c.n, 0)::double / d.denominator end as proportion
from response_funnel as f
cross join reason_codes as r
left join counted as c on c.survey_year = f.survey_year and c.reason_code = r.reason_code
left join denominators as d on d.survey_year = f.survey_year
order by f.survey_year, r.reason_code;

-- The answers behind each metric: one row per year, metric, cohort and level, unchosen levels with n = 0.
create or replace table item_distributions as
with answers as (
    unpivot (
        select survey_year, cohort, value_distinct::varchar as value_distinct,
            value_mentee::varchar as value_mentee, value_mentor::varchar as value_mentor,
            mentor_worthwhile::varchar as mentor_worthwhile, mentor_again::varchar as mentor_again
        from respondents
    )
    on value_distinct, value_mentee, value_mentor, mentor_worthwhile, mentor_again
    into name metric_id value level
),
counted as (
    select survey_year, cohort, metric_id, level, count(*) as n from answers group by all
),
by_cohort as (
    select survey_year, cohort, metric_id, level, n from counted where cohort in ('mentor', 'non_mentor')
    union all
    select survey_year, 'all', metric_id, level, sum(n) from counted group by all
),
levels as (
    select metric_id, level
    from (values ('value_distinct'), ('value_mentee'), ('value_mentor'), ('mentor_worthwhile')) as m (metric_id)
    cross join (values ('1'), ('2'), ('3'), ('4'), ('5')) as l (level)
    union all
    select 'mentor_again', level from (values ('yes'), ('no'), ('unsure')) as l (level)
),
grid as (
    select f.survey_year, l.metric_id, c.cohort, l.level
    from response_funnel as f
    cross join levels as l
    cross join (values ('all'), ('mentor'), ('non_mentor')) as c (cohort)
),
filled as (
    select g.survey_year, g.metric_id, g.cohort, g.level, coalesce(b.n, 0)::bigint as n
    from grid as g
    left join by_cohort as b using (survey_year, metric_id, cohort, level)
)
select
    *,
    sum(n) over (partition by survey_year, metric_id, cohort)::bigint as denominator,
    case when sum(n) over (partition by survey_year, metric_id, cohort) > 0
        then n::double / sum(n) over (partition by survey_year, metric_id, cohort) end as proportion
from filled
order by survey_year, metric_id, cohort, level;

-- Wording changes (spec §2; the pipeline's list is dbt_project/seeds/item_series.csv): a new wording
-- starts a new series. series_start = the latest start on or before the year, else the metric's first
-- year. change_vs_prior: difference from the previous year of the same series that has the metric
-- (denominator > 0). p_value_vs_prior: Fisher's exact test, not SQL (null here).
create or replace table item_series as
select * from (values ('value_mentor', 2026)) as s (metric_id, series_start);

create or replace table metric_trends as
with started as (
    select
        m.*,
        coalesce(
            (select max(s.series_start) from item_series as s
             where s.metric_id = m.metric_id and s.series_start <= m.survey_year),
            min(m.survey_year) over (partition by m.metric_id)
        )::integer as series_start
    from metric_summary as m
)
select
    *,
    case when denominator > 0 then proportion - last_value(case when denominator > 0 then proportion end ignore nulls)
        over (partition by metric_id, cohort, series_start order by survey_year
              rows between unbounded preceding and 1 preceding)
    end as change_vs_prior,
    null::double as p_value_vs_prior
from started
order by metric_id, cohort, survey_year;

-- Cochran-Armitage z (scores = the years, centred), without continuity correction: for every year Y
-- with data, over the years of Y's series up to Y. p_value: the normal tail is not a DuckDB function
-- (null here).
create or replace table metric_trend_tests as
with ends as (
    select metric_id, cohort, series_start, survey_year as last_year
    from metric_trends where denominator > 0
),
windows as (
    select e.metric_id, e.cohort, e.last_year, m.survey_year::double as t, m.numerator::double as x,
        m.denominator::double as n
    from ends as e
    join metric_trends as m
        on m.metric_id = e.metric_id and m.cohort = e.cohort and m.series_start = e.series_start
        and m.survey_year <= e.last_year
),
totals as (
    select metric_id, cohort, last_year, min(t)::integer as first_year, count(*) filter (where n > 0) as years,
        sum(n) as big_n, sum(x) / sum(n) as p_bar, sum(t * n) / sum(n) as t_bar
    from windows group by all
),
sums as (
    select w.metric_id, w.cohort, w.last_year,
        sum((w.t - k.t_bar) * (w.x - w.n * k.p_bar)) as stat,
        sum((w.t - k.t_bar) ^ 2 * w.n) as ss
    from windows as w join totals as k using (metric_id, cohort, last_year)
    group by all
)
select
    k.metric_id, k.cohort, k.first_year, k.last_year, k.years,
    case when k.years >= 2 and k.p_bar > 0 and k.p_bar < 1 and s.ss > 0
        then s.stat / sqrt(k.p_bar * (1 - k.p_bar) * s.ss) end as z,
    null::double as p_value
from totals as k
join sums as s using (metric_id, cohort, last_year)
order by k.metric_id, k.cohort, k.last_year;

-- The data-quality issues of spec §5 (respondents only, as the pipeline records them). Each *_cell is
-- null unless the cell is an issue (stage read).
create or replace table data_quality_issues as
with issues as (
    select survey_year, position, 'age' as "column", age_cell as original_value,
        case when age_number is null then 'not_an_integer' else 'out_of_range' end as rule
    from respondents where age_cell is not null
    union all
    select survey_year, position, 'specialty', specialty_cell, 'unknown_label'
    from respondents where specialty_cell is not null
    union all
    select survey_year, position, 'gender', gender_cell, 'unknown_label'
    from respondents where gender_cell is not null
    union all
    select survey_year, position, 'mentor_formal', mentor_formal_cell, 'unknown_label'
    from respondents where mentor_formal_cell is not null
    union all
    select survey_year, position, 'mentor_informal', mentor_informal_cell, 'unknown_label'
    from respondents where mentor_informal_cell is not null
    union all
    select survey_year, position, 'had_student_mentor', had_student_mentor_cell, 'unknown_label'
    from respondents where had_student_mentor_cell is not null
    union all
    select survey_year, position, 'SSM_value_1', value_1_cell, 'unknown_label'
    from respondents where value_1_cell is not null
    union all
    select survey_year, position, 'SSM_value_2', value_2_cell, 'unknown_label'
    from respondents where value_2_cell is not null
    union all
    select survey_year, position, 'SSM_value_3', value_3_cell, 'unknown_label'
    from respondents where value_3_cell is not null
    union all
    select survey_year, position, 'mentor_again', mentor_again_cell,
        case when mentor_again_answer is null then 'unknown_label' else 'off_branch' end
    from respondents where mentor_again_cell is not null
    union all
    select survey_year, position, 'mentor_worthwhile', mentor_worthwhile_cell,
        case when mentor_worthwhile_answer is null then 'unknown_label' else 'off_branch' end
    from respondents where mentor_worthwhile_cell is not null
    union all
    select survey_year, position, 'mentees_count', mentees_count_cell,
        case when mentees_number is null then 'not_an_integer'
             when mentees_number not between 0 and 20 then 'out_of_range' else 'off_branch' end
    from respondents where mentees_count_cell is not null
    union all
    select survey_year, position, 'nonpart_reasons', reasons_cell, 'off_branch'
    from respondents where reasons_cell is not null
    union all
    select survey_year, position, 'nonpart_reasons_6_TEXT', reasons_text_cell, 'off_branch'
    from respondents where reasons_text_cell is not null
)
select
    d.delivery,
    i.survey_year,
    i.position - d.first_position + 4 as row_number,
    i."column",
    regexp_replace(i.original_value, '[A-Za-z0-9_.+-]+@[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+', '[email removed]', 'g')
        as original_value,
    i.rule
from issues as i
join deliveries as d using (survey_year)
-- Spec §3 (rev 2): a v2 file dated outside 2020-2025 (the synthetic deliveries are v2) is loaded and
-- flagged, one issue on its header row.
union all
select delivery, survey_year, 1, 'instrument_version', 'v2 (used 2020-2025)', 'instrument_outside_its_years'
from deliveries
where survey_year not between 2020 and 2025
order by survey_year, row_number, "column";

-- stage: cleanup
-- Only the marts stay in the database (the row-level tables above are temporary).
drop view respondents;
drop table bucket_counts;
drop table cells;
