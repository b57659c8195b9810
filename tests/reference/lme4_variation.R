# Reference values for cluster_eval.stats.variation: between-practice variance of a proportion on the
# logit scale from lme4::glmer (random-intercept logistic model, binomial counts per practice), and the
# 95% profile-likelihood interval of its SD (confint(method = "profile")).
#
# Run from the project root (needs ../shared and R with lme4):
#   Rscript tests/reference/lme4_variation.R
# Writes tests/reference/lme4_variation.csv, which tests/stats/test_variation.py reads (the tests do not
# need R). Data: NHS Digital QOF 2022-23 disease registers (numerator REGISTER, denominator
# PRACTICE_LIST_SIZE) for the practices of one Integrated Care Board; practices whose register exceeds
# their list size, or with an empty list, are left out (the same filter is applied in the test).
suppressPackageStartupMessages(library(lme4))

shared <- file.path("..", "shared", "data", "real")
prev <- read.csv(file.path(shared, "qof_2223_PREVALENCE.csv"), stringsAsFactors = FALSE)
geo <- read.csv(file.path(shared, "qof_2223_MAPPING_NHS_GEOGRAPHIES.csv"), stringsAsFactors = FALSE)
prev <- merge(prev, geo[, c("PRACTICE_CODE", "ICB_NAME")], by = "PRACTICE_CODE")

cases <- data.frame(
  dataset = c("dm_greater_manchester", "copd_somerset", "ld_shropshire"),
  register = c("DM", "COPD", "LD"),
  icb = c("NHS Greater Manchester Integrated Care Board",
          "NHS Somerset Integrated Care Board",
          "NHS Shropshire, Telford and Wrekin Integrated Care Board"),
  stringsAsFactors = FALSE
)

rows <- list()
for (i in seq_len(nrow(cases))) {
  d <- prev[prev$GROUP_CODE == cases$register[i] & prev$ICB_NAME == cases$icb[i], ]
  d <- d[d$PRACTICE_LIST_SIZE > 0 & d$REGISTER <= d$PRACTICE_LIST_SIZE, ]
  for (k in c(1L, 10L)) {
    fit <- glmer(cbind(REGISTER, PRACTICE_LIST_SIZE - REGISTER) ~ 1 + (1 | PRACTICE_CODE),
                 data = d, family = binomial, nAGQ = k)
    ci <- suppressWarnings(confint(fit, parm = ".sig01", method = "profile", level = 0.95))
    rows[[length(rows) + 1]] <- data.frame(
      dataset = cases$dataset[i], register = cases$register[i], icb = cases$icb[i],
      n_units = nrow(d), n_events = sum(d$REGISTER), nAGQ = k,
      intercept = unname(fixef(fit)[1]),
      sigma2 = as.numeric(VarCorr(fit)$PRACTICE_CODE[1, 1]),
      loglik = as.numeric(logLik(fit)),
      sd_lower_profile95 = ci[1, 1], sd_upper_profile95 = ci[1, 2],
      lme4_version = as.character(packageVersion("lme4")),
      r_version = paste(R.version$major, R.version$minor, sep = ".")
    )
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path("tests", "reference", "lme4_variation.csv"), row.names = FALSE)
print(out)
