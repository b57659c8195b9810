# Reference values for cluster_eval.impact.pool from R metafor::rma (random effects, z tests).
# Inputs: metafor's dat.bcg (BCG vaccine trials; log risk ratios via escalc) and a small homogeneous set.
# Run from the project root:  Rscript tests/reference/pool_metafor.R
# Writes tests/reference/pool_metafor_input.csv and tests/reference/pool_metafor.csv.
suppressPackageStartupMessages(library(metafor))
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
homog <- data.frame(yi = c(0.10, 0.12, 0.08, 0.11, 0.095), vi = c(0.01, 0.02, 0.015, 0.012, 0.03))
inputs <- rbind(data.frame(dataset = "bcg", study = bcg$trial, yi = as.numeric(bcg$yi), sei = sqrt(bcg$vi)),
                data.frame(dataset = "homog", study = 1:5, yi = homog$yi, sei = sqrt(homog$vi)))
write.csv(inputs, "tests/reference/pool_metafor_input.csv", row.names = FALSE)
rows <- list()
for (ds in unique(inputs$dataset)) for (m in c("REML", "DL")) {
  d <- inputs[inputs$dataset == ds, ]
  fit <- rma(yi = d$yi, sei = d$sei, method = m, control = list(threshold = 1e-12, maxiter = 1000))
  p <- predict(fit)
  rows[[paste(ds, m)]] <- data.frame(dataset = ds, method = m, value = as.numeric(fit$b), se = fit$se,
    lower = fit$ci.lb, upper = fit$ci.ub, tau2 = fit$tau2, I2 = fit$I2, H2 = fit$H2, Q = fit$QE,
    Q_p_value = fit$QEp, pi_lower = p$pi.lb, pi_upper = p$pi.ub)
}
write.csv(do.call(rbind, rows), "tests/reference/pool_metafor.csv", row.names = FALSE)
cat(sprintf("metafor %s\n", packageVersion("metafor")))
