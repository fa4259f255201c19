resource "aws_route53_record" "api" {
  zone_id = var.route53_zone_id
  name    = local.api_dns
  type    = "A"
  alias {
    name                   = aws_lb.edge.dns_name
    zone_id                = aws_lb.edge.zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "edge" {
  zone_id = var.route53_zone_id
  name    = local.edge_dns
  type    = "A"
  alias {
    name                   = aws_lb.edge.dns_name
    zone_id                = aws_lb.edge.zone_id
    evaluate_target_health = true
  }
}

# Navs discover the area's edges by this SRV name (polled every 5 s).
resource "aws_route53_record" "edge_srv" {
  zone_id = var.route53_zone_id
  name    = local.edge_srv
  type    = "SRV"
  ttl     = 60
  records = ["0 0 443 ${local.edge_dns}."]
}

resource "aws_route53_record" "nav" {
  count   = 2
  zone_id = var.route53_zone_id
  name    = local.nav_dns[count.index]
  type    = "A"
  ttl     = 60
  records = [aws_eip.nav[count.index].public_ip]
}
