# Apply-level runs against a live `meridian dev --areas SG`: set TF_VAR_endpoint and
# TF_VAR_token (areas.SG.edges[0].admin and operatorToken in its endpoints.json), and
# optionally TF_VAR_endpoints_file (the path of that file).
# `terraform test` destroys what the runs created when it is done.

run "creates_the_app_and_its_settings" {
  command = apply

  assert {
    condition     = meridian_app.demo.home_area == "SG"
    error_message = "The app lives in the endpoint's area."
  }

  assert {
    condition     = length(meridian_app.demo.prod_app_key) == 14 && meridian_app.demo.dev_app_key != meridian_app.demo.prod_app_key
    error_message = "Each environment gets its own generated 14-character App Key."
  }

  assert {
    condition     = meridian_app.demo.id == meridian_app.demo.prod_app_key
    error_message = "The app is identified by its prod App Key."
  }

  assert {
    condition     = meridian_app_settings.demo_prod.offline_window_days == 3 && meridian_app_settings.demo_prod.multi_device
    error_message = "The configured settings are stored."
  }

  assert {
    condition     = var.endpoints_file == null || startswith(coalesce(output.server_api, "missing"), "http://")
    error_message = "With endpoints_file, the area's Server API URL is read from it."
  }

  assert {
    condition     = meridian_app_settings.demo_prod.strict_replay == false && meridian_app_settings.demo_prod.routing_url == null
    error_message = "Settings left out take the admin API's defaults."
  }

  assert {
    condition     = length(meridian_app_settings.demo_prod.moderation_rule) == 1 && meridian_app_settings.demo_prod.moderation_rule[0].default_action == "block"
    error_message = "The moderation rule is stored."
  }

  assert {
    condition     = length(meridian_app_settings.demo_prod.moderation_rule[0].senders) == 0 && length(meridian_app_settings.demo_prod.push_app) == 0
    error_message = "A rule's lists left out match anything (empty); no push credentials."
  }

  assert {
    condition     = meridian_area.na.id == "NA" && meridian_area.na.edge_tls && meridian_area.na.static_edges == tolist(["edge-na-1.example.com:443"])
    error_message = "The area entry is stored."
  }
}

run "changes_an_area_entry_in_place" {
  command = apply

  variables {
    na_api_primary = "https://api2-na.example.com"
  }

  assert {
    condition     = meridian_area.na.api_primary == "https://api2-na.example.com" && meridian_area.na.nav_primary == "nav-na.example.com"
    error_message = "The new API host is stored; the rest stays."
  }
}

run "changes_a_setting_in_place" {
  command = apply

  variables {
    routing_url = "https://app.example.com/meridian/route"
  }

  assert {
    condition     = meridian_app_settings.demo_prod.routing_url == "https://app.example.com/meridian/route"
    error_message = "The routing URL is set."
  }

  assert {
    condition     = meridian_app.demo.prod_app_key == run.creates_the_app_and_its_settings.prod_app_key
    error_message = "Changing a setting keeps the app."
  }
}

run "renaming_replaces_the_app" {
  command = apply

  variables {
    app_name = "terraform-demo-renamed"
  }

  assert {
    condition     = meridian_app.demo.prod_app_key != run.creates_the_app_and_its_settings.prod_app_key
    error_message = "The admin API cannot rename an app: a new one replaces it."
  }

  assert {
    condition     = meridian_app_settings.demo_prod.app_key == meridian_app.demo.prod_app_key && meridian_app_settings.demo_prod.offline_window_days == 3
    error_message = "The settings follow the new app."
  }
}
