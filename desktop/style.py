"""The app's look: the system palette (light or dark, following the OS) plus a little polish.

Colours come from palette roles, so one stylesheet serves both themes.
"""

STYLESHEET = """
#header { border-bottom: 1px solid palette(mid); }
#brand { font-size: 18px; font-weight: 700; padding-right: 12px; }
#levelBadge {
    background: palette(highlight); color: palette(highlighted-text);
    border-radius: 10px; padding: 3px 10px; font-weight: 600;
}
#headerModel { color: palette(placeholder-text); }
#nav { border: none; border-right: 1px solid palette(mid); background: palette(base);
       font-size: 14px; outline: 0; }
#nav::item { padding: 7px 10px; border-radius: 6px; margin: 1px 6px; }
#nav::item:selected { background: palette(highlight); color: palette(highlighted-text); }
#pageTitle { font-size: 20px; font-weight: 700; }
#pageIntro, #hint, #bubbleStats, #headerModel { color: palette(placeholder-text); }
#sectionTitle { font-size: 15px; font-weight: 600; }
#emptyHint { color: palette(placeholder-text); padding: 40px 20px; font-size: 14px; }
#userBubble { background: palette(alternate-base); border: 1px solid palette(midlight);
              border-radius: 10px; }
#assistantBubble { background: palette(base); border: 1px solid palette(mid); border-radius: 10px; }
#bubbleRole { font-weight: 600; }
#bubbleText { font-size: 14px; }
#bubbleStats { font-size: 11px; }
#inspectButton { font-size: 11px; text-decoration: underline; border: none; }
#dropZone { border: 2px dashed palette(mid); border-radius: 10px; color: palette(placeholder-text);
            padding: 12px; }
#sourcesLabel { font-size: 12px; }
#dirtyLabel { color: palette(link); }
#transcript { background: transparent; }
QGroupBox { font-weight: 600; margin-top: 12px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
"""
