"""Conversations written for these tests and the LLM benchmark (not taken from anywhere).

Each turn is (sender, text) or (sender, None, sticker) where sticker is a dict of catalog attributes.
"""

from __future__ import annotations

LAUGH = {"emoji": "😂", "ocr_text": "LOL", "description": "a cat laughing so hard it falls over",
         "intent": "amusement"}
THUMBS = {"emoji": "👍", "ocr_text": "Deal!", "description": "a cartoon dog giving a thumbs up",
          "intent": "approval"}
SLEEPY = {"emoji": "😴", "ocr_text": "", "description": "a sleepy panda hugging a pillow", "intent": "neutral"}
XIONG = {"emoji": "🐻", "ocr_text": "好耶", "description": "一只开心跳舞的小熊", "intent": "joy"}

# 40 messages: planning a camping trip to Lake Tahoe.
CAMPING_EN = [
    ("Alice", "Hey Bob, are we still on for the camping trip to Lake Tahoe this weekend?"),
    ("Bob", "Yes! I already booked the campsite at Emerald Bay for Friday and Saturday night."),
    ("Alice", "Amazing. Who is bringing the tent?"),
    ("Bob", "I'll bring my big four-person tent, the one we used last summer."),
    ("Alice", "Great, I'll bring the camping stove and the cooler."),
    ("Bob", "Don't forget the marshmallows this time 😅"),
    ("Alice", None, LAUGH),
    ("Alice", "I still can't believe we forgot them last year."),
    ("Bob", "Carol asked if she can join us. Is that ok?"),
    ("Alice", "Of course, the more the merrier."),
    ("Bob", "She says she will drive her Jeep, so we have space for the kayaks."),
    ("Alice", "Perfect, then we can kayak to Fannette Island on Saturday."),
    ("Bob", "The weather forecast says sunny, 25 degrees, but cold at night."),
    ("Alice", "I'll pack my warm sleeping bag then."),
    ("Bob", "Should we leave Friday morning to avoid traffic?"),
    ("Alice", "Let's leave at 7am, I can pick you up at your place."),
    ("Bob", None, THUMBS),
    ("Bob", "I'll buy the groceries on Thursday evening."),
    ("Alice", "Get some burgers and corn for the grill."),
    ("Bob", "And coffee. Lots of coffee."),
    ("Alice", "Haha yes, nobody wants to see me without coffee."),
    ("Bob", "Do we need a fire permit?"),
    ("Alice", "Yes, I'll get the California campfire permit online tonight."),
    ("Bob", "Nice. What about bear canisters? The ranger said bears are active."),
    ("Alice", "Carol has two bear canisters, I'll ask her to bring them."),
    ("Bob", "Good, I don't want a bear eating our burgers."),
    ("Alice", None, LAUGH),
    ("Bob", "Should we hike the Rubicon Trail on Sunday?"),
    ("Alice", "Yes, it's about 8 miles, we can do it before driving home."),
    ("Bob", "I'll bring my camera for the sunrise photos."),
    ("Alice", "Don't forget the extra batteries this time."),
    ("Bob", "Noted. Anything else?"),
    ("Alice", "Sunscreen, headlamps and the first aid kit."),
    ("Bob", "I have the first aid kit in my car already."),
    ("Alice", "Then I think we're ready. So excited!"),
    ("Bob", "Me too, it's been a stressful month at work, I need this."),
    ("Alice", "Same here. See you Friday at 7!"),
    ("Bob", None, THUMBS),
    ("Bob", "Going to sleep now, good night."),
    ("Alice", None, SLEEPY),
]

# 10 messages in Chinese: 小明 and 小红 plan a hotpot dinner.
HOTPOT_ZH = [
    ("小明", "小红，周六晚上一起去吃火锅吧？"),
    ("小红", "好啊！去哪家？"),
    ("小明", "海底捞，就在人民广场旁边那家。"),
    ("小红", None, XIONG),
    ("小红", "我想吃毛肚和虾滑。"),
    ("小明", "我已经订好了六点的位子。"),
    ("小红", "太好了，要不要叫上小李？"),
    ("小明", "可以，他最喜欢吃辣锅。"),
    ("小红", "那就这么定了，周六见！"),
    ("小明", None, XIONG),
]

# 12 messages: an unrelated session (a broken laptop), to make retrieval choose.
LAPTOP_EN = [
    ("Alice", "Bob my laptop won't turn on anymore, the screen stays black."),
    ("Bob", "Did you try holding the power button for 30 seconds?"),
    ("Alice", "Yes, nothing. I think the battery died."),
    ("Bob", "Is it still under warranty?"),
    ("Alice", "Only until March, I bought it at the Apple Store downtown."),
    ("Bob", "Then book a Genius Bar appointment, they replace batteries for free."),
    ("Alice", "Ugh, I have a deadline on Monday for the quarterly report."),
    ("Bob", "You can borrow my old ThinkPad until it's fixed."),
    ("Alice", "You're a lifesaver, thank you!"),
    ("Bob", None, THUMBS),
    ("Alice", "I'll pick it up after lunch."),
    ("Bob", "It's on my desk, the charger is in the drawer."),
]
