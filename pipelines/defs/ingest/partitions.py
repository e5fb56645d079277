"""The one partitioning of the pipeline: the survey year (the graduation year of the class).

Dynamic, because years exist when their file arrives: the landing sensor and `ssm run` add a year the
first time a delivery for it appears, so the UI never offers years that have no data.
"""

import dagster as dg

survey_years = dg.DynamicPartitionsDefinition(name="survey_year")
