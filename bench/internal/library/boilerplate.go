package library

import (
	"fmt"
	"strings"
)

// The boilerplate of a Drupal 10 site around the view: head with styles,
// scripts and metadata, a mega menu, breadcrumb, a sidebar of facets and a
// footer of links, about 25 KB in all. None of it is inside an item, but
// a parser walks all of it.

var menuTopics = []string{"Migration governance", "Labour mobility", "Trafficking in persons", "Climate & displacement",
	"Return & reintegration", "Migration health", "Data & research", "Emergencies", "Diaspora engagement", "Border management"}

func (l *Library) head(b *strings.Builder, p int) {
	fmt.Fprintf(b, `<!DOCTYPE html>
<html lang="en" dir="ltr" prefix="content: http://purl.org/rss/1.0/modules/content/  dc: http://purl.org/dc/terms/  foaf: http://xmlns.com/foaf/0.1/  og: http://ogp.me/ns#  rdfs: http://www.w3.org/2000/01/rdf-schema#  schema: http://schema.org/  sioc: http://rdfs.org/sioc/ns#  sioct: http://rdfs.org/sioc/types#  skos: http://www.w3.org/2004/02/skos/core#  xsd: http://www.w3.org/2001/XMLSchema# ">
  <head>
    <meta charset="utf-8" />
    <meta name="description" content="Research reports, guidance and policy briefs on migration, displacement and human trafficking: page %d of the publication library." />
    <link rel="canonical" href="%s?page=%d" />
    <meta name="Generator" content="Drupal 10 (https://www.drupal.org)" />
    <meta name="MobileOptimized" content="width" />
    <meta name="HandheldFriendly" content="true" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <meta property="og:site_name" content="Migration Resource Library" />
    <meta property="og:type" content="website" />
    <meta property="og:title" content="Publications | Migration Resource Library" />
    <link rel="icon" href="/themes/custom/library/favicon.ico" type="image/vnd.microsoft.icon" />
    <title>Publications | Migration Resource Library</title>
`, p+1, ListPath, p)
	for k := 0; k < 6; k++ {
		fmt.Fprintf(b, "    <link rel=\"stylesheet\" media=\"all\" href=\"/sites/default/files/css/css_%c%c9kQ2lXv7Fz3hJm0pR%d.css?delta=%d&amp;language=en&amp;theme=library&amp;include=eJxtj0EOwjAMBL9D\" />\n", 'a'+k, 'A'+k, k*37, k)
	}
	for k := 0; k < 5; k++ {
		fmt.Fprintf(b, "    <script src=\"/sites/default/files/js/js_%c%cw8Yq1nLz%d.js?scope=header&amp;delta=%d&amp;language=en&amp;theme=library&amp;include=eJxtj0EOwjAMBL9D\"></script>\n", 'k'+k, 'K'+k, k*53, k)
	}
	b.WriteString(`    <style>.visually-hidden{position:absolute!important;clip:rect(1px,1px,1px,1px);overflow:hidden;height:1px;width:1px;word-wrap:normal}.pager__items{display:flex;gap:.5rem;list-style:none}.views-row{border-bottom:1px solid #ddd;padding:1rem 0}.field--label-inline .field__label{font-weight:700;display:inline-block;margin-right:.25rem}.field--label-inline .field__items,.field--label-inline .field__item{display:inline}</style>
  </head>
  <body class="path-resources page-view-resources no-sidebars-second">
    <a href="#main-content" class="visually-hidden focusable skip-link">Skip to main content</a>
    <div class="dialog-off-canvas-main-canvas" data-off-canvas-main-canvas>
    <div class="layout-container">
      <header role="banner" class="site-header">
        <div class="region region-header">
          <div id="block-library-branding" class="block block-system block-system-branding-block">
            <a href="/" rel="home" class="site-logo"><img src="/themes/custom/library/logo.svg" alt="Home" /></a>
            <div class="site-name"><a href="/" rel="home">Migration Resource Library</a></div>
            <div class="site-slogan">Research, guidance and data on human mobility</div>
          </div>
          <div class="language-switcher-language-url block block-language" id="block-languageswitcher" role="navigation">
            <ul class="links"><li hreflang="en" class="is-active"><a href="/resources" class="language-link is-active" hreflang="en">English</a></li><li hreflang="es"><a href="/es/recursos" class="language-link" hreflang="es">Español</a></li><li hreflang="fr"><a href="/fr/ressources" class="language-link" hreflang="fr">Français</a></li></ul>
          </div>
          <div class="search-block-form block block-search" id="block-search" role="search">
            <form action="/search/node" method="get" id="search-block-form" accept-charset="UTF-8"><div class="js-form-item form-item js-form-type-search form-item-keys js-form-item-keys form-no-label"><label for="edit-keys" class="visually-hidden">Search</label><input title="Enter the terms you wish to search for." data-drupal-selector="edit-keys" type="search" id="edit-keys" name="keys" value="" size="15" maxlength="128" class="form-search" /></div><div data-drupal-selector="edit-actions" class="form-actions js-form-wrapper form-wrapper" id="edit-actions"><input data-drupal-selector="edit-submit" type="submit" id="edit-submit" value="Search" class="button js-form-submit form-submit" /></div></form>
          </div>
        </div>
        <div class="region region-primary-menu">
          <nav role="navigation" aria-labelledby="block-library-main-menu-menu" id="block-library-main-menu" class="block block-menu navigation menu--main">
            <h2 class="visually-hidden" id="block-library-main-menu-menu">Main navigation</h2>
            <ul class="menu menu--level-1">
`)
	for k, t := range menuTopics[:6] {
		s := slug(t)
		fmt.Fprintf(b, `              <li class="menu-item menu-item--expanded"><a href="/en/%s" data-drupal-link-system-path="taxonomy/term/%d">%s</a>
                <ul class="menu menu--level-2">
                  <li class="menu-item"><a href="/en/%s/overview" data-drupal-link-system-path="node/%d">Overview</a></li>
                  <li class="menu-item"><a href="/en/%s/publications" data-drupal-link-system-path="node/%d">Publications</a></li>
                  <li class="menu-item"><a href="/en/%s/data" data-drupal-link-system-path="node/%d">Data and statistics</a></li>
                  <li class="menu-item"><a href="/en/%s/projects" data-drupal-link-system-path="node/%d">Projects</a></li>
                </ul>
              </li>
`, s, 100+k, esc(t), s, 1000+k, s, 2000+k, s, 3000+k, s, 4000+k)
	}
	b.WriteString(`            </ul>
          </nav>
        </div>
      </header>
      <div class="region region-breadcrumb">
        <nav class="breadcrumb" role="navigation" aria-labelledby="system-breadcrumb">
          <h2 id="system-breadcrumb" class="visually-hidden">Breadcrumb</h2>
          <ol><li><a href="/">Home</a></li><li><a href="/resources">Resources</a></li><li>Publications</li></ol>
        </nav>
      </div>
      <main role="main">
        <a id="main-content" tabindex="-1"></a>
<div class="layout-content-with-sidebar">
`)
}

// sidebar writes the facet blocks (Country, Region, Year, Category) with
// their counts, as the Facets module renders them.
func (l *Library) sidebar(b *strings.Builder) {
	b.WriteString(`  <aside class="layout-sidebar-first" role="complementary">
    <div class="region region-sidebar-first">
`)
	facet := func(id, title string, values []string) {
		fmt.Fprintf(b, `      <div class="facets-widget-checkbox block block-facets block-facet--checkbox" id="block-%s">
        <h2>%s</h2>
        <ul data-drupal-facet-id="%s" data-drupal-facet-alias="%s" class="facet-inactive js-facets-checkbox-links item-list__checkbox">
`, id, esc(title), id, id)
		for k, v := range values {
			fmt.Fprintf(b, `          <li class="facet-item"><input type="checkbox" class="facets-checkbox" id="%s-%d" /><label for="%s-%d"><a href="/resources?f%%5B0%%5D=%s%%3A%d" rel="nofollow" data-drupal-facet-item-id="%s-%d" data-drupal-facet-item-value="%d" data-drupal-facet-item-count="%d"><span class="facet-item__value">%s</span> <span class="facet-item__count">(%d)</span></a></label></li>
`, id, k, id, k, id, 200+k, id, k, 200+k, 37*(k+3)%211, esc(v), 37*(k+3)%211)
		}
		b.WriteString("        </ul>\n      </div>\n")
	}
	facet("country", "Country", countries[:5])
	facet("region", "Region", regions[:5])
	years := make([]string, 0, 12)
	for y := 2025; y > 2020; y-- {
		years = append(years, fmt.Sprint(y))
	}
	facet("year", "Year", years)
	facet("category", "Category", categoriesEN[:5])
	b.WriteString("    </div>\n  </aside>\n")
}

func footer(b *strings.Builder) {
	b.WriteString(`      </main>
      <footer role="contentinfo" class="site-footer">
        <div class="region region-footer">
`)
	for k, t := range menuTopics[:6] {
		s := slug(t)
		fmt.Fprintf(b, `          <nav role="navigation" id="block-footer-%d" class="block block-menu navigation menu--footer"><h2>%s</h2><ul class="menu"><li class="menu-item"><a href="/en/%s/overview">Overview</a></li><li class="menu-item"><a href="/en/%s/publications">Publications</a></li><li class="menu-item"><a href="/en/%s/data">Data</a></li><li class="menu-item"><a href="/en/%s/contact">Contact</a></li></ul></nav>
`, k, esc(t), s, s, s, s)
	}
	b.WriteString(`          <div class="block block-system block-system-powered-by-block">
            <p>&copy; Migration Resource Library. A benchmark fixture generated by harvest's bench/; every publication is fictional.</p>
            <ul class="social"><li><a href="https://example.org/twitter">X</a></li><li><a href="https://example.org/facebook">Facebook</a></li><li><a href="https://example.org/linkedin">LinkedIn</a></li><li><a href="https://example.org/youtube">YouTube</a></li></ul>
          </div>
        </div>
      </footer>
    </div>
    </div>
    <script type="application/json" data-drupal-selector="drupal-settings-json">{"path":{"baseUrl":"\/","pathPrefix":"","currentPath":"resources","currentPathIsAdmin":false,"isFront":false,"currentLanguage":"en","currentQuery":{"page":"1"}},"pluralDelimiter":"\u0003","suppressDeprecationErrors":true,"ajaxPageState":{"libraries":"eJxtj0EOwjAMBL9D7hdEx8EKs9c0wBOH0rNhR4kXX1YxPrZqlnM6x3QScRxVx9nE1O8h0g","theme":"library","theme_token":null},"ajaxTrustedUrl":[],"views":{"ajax_path":"\/views\/ajax","ajaxViews":{"views_dom_id:4b3e":{"view_name":"resources","view_display_id":"page_1","view_args":"","view_path":"\/resources","view_base_path":"resources","view_dom_id":"4b3e","pager_element":0}}},"facets":{"softLimit":{"country":10,"region":10},"softLimitSettings":{"country":{"showLessLabel":"Show less","showMoreLabel":"Show more"}}},"user":{"uid":0,"permissionsHash":"b3f7c0d5a1e9f2468ace13579bdf02468ace13579bdf02468ace13579bdf0246"}}</script>
`)
	for k := 0; k < 6; k++ {
		fmt.Fprintf(b, "    <script src=\"/sites/default/files/js/js_F%dq8Yw1nLz.js?scope=footer&amp;delta=%d&amp;language=en&amp;theme=library&amp;include=eJxtj0EOwjAMBL9D\"></script>\n", k*71, k)
	}
	b.WriteString("  </body>\n</html>\n")
}
