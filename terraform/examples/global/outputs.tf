output "api_urls" {
  description = "Each area's Server API."
  value = {
    CN   = module.cn.api_url
    SG   = module.sg.api_url
    SG-B = module.sg_b.api_url
    NA   = module.na.api_url
    SA   = module.sa.api_url
  }
}

output "nav_urls" {
  description = "Each area's primary and backup nav."
  value = {
    CN   = module.cn.nav_urls
    SG   = module.sg.nav_urls
    SG-B = module.sg_b.nav_urls
    NA   = module.na.nav_urls
    SA   = module.sa.nav_urls
  }
}
